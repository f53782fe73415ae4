"""A throw-away single-node SLURM cluster on this machine, for tests of the SLURM profile.

    with LocalSlurm() as cluster:      # skips the test when no cluster can be had
        ...                            # sbatch/squeue work; cluster.node is the node name

If a working cluster of this host alone already answers (`sinfo` shows a usable node) it is used as it
is and left alone; a cluster with other nodes only when $LAQ_SLURM_SHARED_DIR names a directory they share
(the test's working directory goes there), else the test is skipped.
Otherwise, as root: installs Debian's slurm-wlm + munge when missing, writes /etc/slurm/slurm.conf
(an existing one is backed up and restored; the job steps read that path, not $SLURM_CONF), starts
munged (unless munge already works), slurmctld and slurmd in the foreground with state, spool and logs
in a temporary directory, and waits for the node to be idle. On exit, it cancels the jobs left in its
own cluster and stops only the daemons it started, by PID.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

SLURM_CONF = Path("/etc/slurm/slurm.conf")
MUNGE_KEY = Path("/etc/munge/munge.key")
MUNGE_SOCKET_DIR = Path("/run/munge")
DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sinfo", "squeue", "sbatch", "scancel", "scontrol")
SHARED_DIR_ENV = "LAQ_SLURM_SHARED_DIR"  # set: use any cluster that answers, with work dirs in this directory
USABLE = {"idle", "mix", "mixed", "alloc", "allocated", "comp", "completing"}


def _run(*cmd: str, timeout: float = 15) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        return subprocess.CompletedProcess(cmd, 255, "", str(e))


def _which(name: str) -> str | None:
    # daemons live in /usr/sbin, which a non-login PATH may lack
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin:/usr/bin:/bin")


def node_states() -> dict[str, str] | None:
    """{node: state} as sinfo reports it (state without the */~/# suffixes), None when nobody answers."""
    if not _which("sinfo"):
        return None
    p = _run("sinfo", "-h", "-N", "-o", "%N %t", timeout=10)
    if p.returncode != 0:
        return None
    states = {}
    for line in p.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2:
            states[parts[0]] = parts[1].rstrip("*~#!%$@^-")
    return states


def cluster_usable() -> bool:
    states = node_states()
    return bool(states) and any(s in USABLE for s in states.values())


class LocalSlurm:
    def __init__(self, ready_timeout: float = 60, install: bool = True, oversubscribe: int = 1):
        """oversubscribe: the node advertises that many times the machine's CPUs (only when started here)."""
        self.ready_timeout = ready_timeout
        self.oversubscribe = max(1, int(oversubscribe))
        self.install = install
        self.reused = False  # True: an existing cluster, not ours
        self.node: str | None = None
        self.dir: Path | None = None
        self._procs: list[tuple[str, subprocess.Popen]] = []
        self._conf_backup: Path | None = None
        self._wrote_conf = False

    # ---- public helpers -------------------------------------------------------------------------------

    @property
    def ctld_log(self) -> Path | None:
        return self.dir / "slurmctld.log" if self.dir else None

    def log_tail(self, n: int = 40) -> str:
        """The end of the daemons' logs (empty when the cluster is not ours), for failure messages."""
        if not self.dir:
            return ""
        out = []
        for name in ("munged.out", "slurmctld.log", "slurmd.log"):
            f = self.dir / name
            if f.exists():
                lines = f.read_text(errors="replace").splitlines()[-n:]
                out.append(f"--- {name}\n" + "\n".join(lines))
        return "\n".join(out)

    def cancel(self, job_ids) -> None:
        ids = [str(j) for j in job_ids]
        if ids:
            _run("scancel", *ids, timeout=30)

    # ---- context manager ------------------------------------------------------------------------------

    def __enter__(self) -> "LocalSlurm":
        if cluster_usable():
            states = node_states()
            here = {socket.gethostname().split(".")[0], "localhost"}
            if not set(states) <= here and not os.environ.get(SHARED_DIR_ENV):
                pytest.skip(
                    f"a SLURM cluster with other nodes ({', '.join(states)}) answers sinfo; not submitting test jobs "
                    f"to it unless {SHARED_DIR_ENV} names a directory its nodes share"
                )
            self.reused = True
            self.node = next(n for n, s in states.items() if s in USABLE)
            return self
        if os.geteuid() != 0:
            pytest.skip("no usable SLURM cluster answers sinfo, and starting one needs root")
        try:
            self._ensure_installed()
            self._start()
        except BaseException:
            self._stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self._stop()

    # ---- setup ----------------------------------------------------------------------------------------

    def _ensure_installed(self) -> None:
        missing = [n for n in DAEMONS + CLIENTS if not _which(n)]
        if not missing:
            return
        if not self.install or not shutil.which("apt-get"):
            pytest.skip(f"SLURM not installed (missing {', '.join(missing)}) and no apt-get to install it")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        cmd = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "slurm-wlm", "munge"]
        p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
        if p.returncode != 0:  # stale or missing package lists
            subprocess.run(["apt-get", "update", "-q"], capture_output=True, text=True, env=env, timeout=600)
            p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
        missing = [n for n in DAEMONS + CLIENTS if not _which(n)]
        if p.returncode != 0 or missing:
            pytest.skip(f"could not install slurm-wlm/munge (missing {', '.join(missing)}): {p.stderr[-500:]}")

    def _start(self) -> None:
        ctld_up = "is UP" in _run("scontrol", "ping", timeout=10).stdout
        if ctld_up:
            pytest.skip(f"a slurmctld not started by this test is running but has no usable node: {node_states()}")
        self.dir = Path(tempfile.mkdtemp(prefix="laq-slurm-"))
        self.dir.chmod(0o755)
        for sub in ("state", "spool"):
            (self.dir / sub).mkdir()
        if not self._munge_works():
            self._start_munged()
        self.node = socket.gethostname().split(".")[0]
        self._write_conf()
        self._spawn("slurmctld", [_which("slurmctld"), "-D"], self.dir / "slurmctld.out")
        self._wait(lambda: "is UP" in _run("scontrol", "ping", timeout=5).stdout, 30, "slurmctld to answer")
        self._spawn("slurmd", [_which("slurmd"), "-D", "-N", self.node], self.dir / "slurmd.out")
        self._wait_node_idle()

    def _munge_works(self) -> bool:
        if not (_which("munge") and _which("unmunge")):
            return False
        try:
            cred = subprocess.run(["munge", "-n"], capture_output=True, timeout=10)
            if cred.returncode != 0:
                return False
            return subprocess.run(["unmunge"], input=cred.stdout, capture_output=True, timeout=10).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            return False

    def _start_munged(self) -> None:
        pw = pwd.getpwnam("munge")
        for d in (MUNGE_KEY.parent, MUNGE_SOCKET_DIR, Path("/var/lib/munge"), Path("/var/log/munge")):
            d.mkdir(parents=True, exist_ok=True)
            os.chown(d, pw.pw_uid, pw.pw_gid)
        MUNGE_KEY.parent.chmod(0o700)
        MUNGE_SOCKET_DIR.chmod(0o755)
        if not MUNGE_KEY.exists():
            if _which("mungekey"):
                subprocess.run([_which("mungekey"), "--create", "--keyfile", str(MUNGE_KEY)], check=True, timeout=30)
            else:
                MUNGE_KEY.write_bytes(os.urandom(1024))
        os.chown(MUNGE_KEY, pw.pw_uid, pw.pw_gid)
        MUNGE_KEY.chmod(0o400)
        self._spawn("munged", [_which("munged"), "-F"], self.dir / "munged.out", user="munge")
        self._wait(self._munge_works, 20, "munged to answer")

    def _hardware(self) -> str:
        """The node line's hardware part, from `slurmd -C`: memory minus a margin, CPUs times oversubscribe."""
        p = _run(_which("slurmd"), "-C", timeout=30)
        fields = dict(kv.split("=", 1) for kv in p.stdout.split() if "=" in kv) if p.returncode == 0 else {}
        cpus = int(fields.get("CPUs", os.cpu_count() or 1))
        try:
            mem = int(fields["RealMemory"])
        except (KeyError, ValueError):
            mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
        hw = f"RealMemory={max(500, int(mem * 0.9))}"
        if self.oversubscribe > 1:  # slurmd takes the configured CPUs instead of draining the node
            return f"CPUs={cpus * self.oversubscribe} {hw}"
        hw = f"CPUs={cpus} {hw}"
        if all(k in fields for k in ("SocketsPerBoard", "CoresPerSocket", "ThreadsPerCore")):
            hw += "".join(f" {k}={fields[k]}" for k in ("Boards", "SocketsPerBoard", "CoresPerSocket", "ThreadsPerCore") if k in fields)
        return hw

    def _write_conf(self) -> None:
        d = self.dir
        hw = self._hardware()
        conf = f"""# written by tests/slurm_cluster.py; restored/removed when the test ends
ClusterName=laqtest
SlurmctldHost={self.node}(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
CryptoType=crypto/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
ReturnToService=2
SlurmctldPidFile={d}/slurmctld.pid
SlurmdPidFile={d}/slurmd.pid
SlurmdSpoolDir={d}/spool
StateSaveLocation={d}/state
SlurmctldLogFile={d}/slurmctld.log
SlurmdLogFile={d}/slurmd.log
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
# finished jobs stay visible to squeue (the profile's status command) for 10 minutes
MinJobAge=600
{"SlurmdParameters=config_overrides" if self.oversubscribe > 1 else ""}
NodeName={self.node} NodeAddr=127.0.0.1 {hw} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""
        SLURM_CONF.parent.mkdir(parents=True, exist_ok=True)
        if SLURM_CONF.exists():
            self._conf_backup = SLURM_CONF.with_name(f"slurm.conf.laq-backup-{os.getpid()}")
            shutil.copy2(SLURM_CONF, self._conf_backup)
        self._wrote_conf = True
        SLURM_CONF.write_text(conf)

    def _spawn(self, name: str, cmd: list[str], out: Path, user: str | None = None) -> None:
        with open(out, "w") as f:
            kw = dict(user=user, group=user, extra_groups=[]) if user else {}
            p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT, start_new_session=True, **kw)
        self._procs.append((name, p))
        time.sleep(0.5)
        if p.poll() is not None:
            raise RuntimeError(f"{name} exited at once ({p.returncode}):\n{out.read_text()[-2000:]}\n{self.log_tail()}")

    def _wait(self, ok, timeout: float, what: str) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if ok():
                return
            for name, p in self._procs:
                if p.poll() is not None:
                    raise RuntimeError(f"{name} died ({p.returncode}) while waiting for {what}\n{self.log_tail()}")
            time.sleep(0.5)
        raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}\n{self.log_tail()}")

    def _wait_node_idle(self) -> None:
        last_resume = 0.0

        def ready():
            nonlocal last_resume
            state = (node_states() or {}).get(self.node, "")
            if state == "idle":
                return True
            if state.startswith(("down", "drain", "drng", "fail")) and time.monotonic() - last_resume > 5:
                _run("scontrol", "update", f"nodename={self.node}", "state=resume")
                last_resume = time.monotonic()
            return False

        self._wait(ready, self.ready_timeout, f"node {self.node} to be idle (sinfo: {node_states()})")

    # ---- teardown -------------------------------------------------------------------------------------

    def _stop(self) -> None:
        if self.reused:
            return
        if any(n == "slurmctld" and p.poll() is None for n, p in self._procs):
            # our own cluster: nothing else runs in it, so cancel whatever is left and let slurmd reap it
            ids = _run("squeue", "-h", "-o", "%i", timeout=10).stdout.split()
            if ids:
                self.cancel(ids)
                end = time.monotonic() + 20
                while time.monotonic() < end and _run("squeue", "-h", "-t", "R,CG,PD", "-o", "%i").stdout.strip():
                    time.sleep(1)
        for name, p in reversed(self._procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(10)
        self._procs.clear()
        if self._wrote_conf:
            if self._conf_backup:
                shutil.move(self._conf_backup, SLURM_CONF)
            else:
                SLURM_CONF.unlink(missing_ok=True)
            self._wrote_conf = False
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None
