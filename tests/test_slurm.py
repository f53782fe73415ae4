"""`snakemake --profile slurm` from the repository root: what each preset's jobs request (dry runs, no cluster
needed), and a run against a real (local, single-node) SLURM cluster.

The cluster comes from tests/slurm_cluster.py: an existing one of this host that answers sinfo, else one
started here (root only; slurm-wlm/munge are installed with apt when missing). Skipped when neither is
possible. To run it against a real multi-node cluster, set LAQ_SLURM_SHARED_DIR to a directory all nodes see.
"""

import csv
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from conftest import REPO
from slurm_cluster import SHARED_DIR_ENV, LocalSlurm

PRESETS = ["default", "smoke", "cifar100-resnet50", "seed-replay", "rehearsal"]
DEVICE_RULES = {"train_base", "evaluate_base", "embed", "finetune", "quantize", "evaluate", "evaluate_finetuned"}
COMPUTE_RULES = DEVICE_RULES | {"prepare_data", "distance"}

TIMEOUT = 360  # seconds for the whole workflow; it takes about 3.5 minutes on 2 cores


def merged_config(*files, **overrides):
    """config.yaml with the files on top, merged key by key as Snakemake merges config files."""

    def update(a, b):
        for k, v in b.items():
            a[k] = update(dict(a[k]), v) if isinstance(v, dict) and isinstance(a.get(k), dict) else v
        return a

    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    for f in files:
        cfg = update(cfg, yaml.safe_load(Path(f).read_text()))
    return update(cfg, overrides)


def planned_resources(tmp_path, *args, config=()):
    """{rule: resources dict} of `snakemake --profile slurm -n` (the profile's executor is not even started)."""
    # from the repository root (seed-replay names files relative to it), results in tmp_path
    cmd = [sys.executable, "-m", "snakemake", "--profile", "slurm", "-n", "--snakefile", str(REPO / "Snakefile"), *args,
           "--config", f"results={tmp_path}", *config]
    p = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    out = {}
    for rule, res in re.findall(r"^(?:local)?rule (\w+):\n(?:    .*\n)*?    resources: (.*)$", p.stdout, re.M):
        out[rule] = dict(kv.split("=", 1) for kv in res.split(", "))
    return out


@pytest.mark.parametrize("preset", PRESETS)
def test_each_preset_requests_a_gpu_exactly_for_the_rules_that_compute_on_the_device(preset, tmp_path):
    files = [] if preset == "default" else [REPO / "presets" / f"{preset}.yaml"]
    cfg = merged_config(*files)
    res = planned_resources(tmp_path, *(["--configfile", *map(str, files)] if files else []))
    assert COMPUTE_RULES & set(res), res.keys()
    gpu_wanted = cfg["device"] in ("cuda", "auto")
    for rule, r in res.items():
        uses_device = rule in DEVICE_RULES and not (rule == "train_base" and cfg["model"]["train"]["epochs"] == 0)
        assert ("gpu" in r) == (gpu_wanted and uses_device), (preset, rule, r)
        if "gpu" in r:
            assert r["gpu"] == "1"
        if rule in COMPUTE_RULES:  # measured per rule (config resources.rules), else the config's default
            want = {**cfg["resources"], **cfg["resources"].get("rules", {}).get(rule, {})}
            assert int(r["mem_mb"]) == want["mem_mb"] and int(r["runtime"]) == want["runtime"], (preset, rule, r)
        else:  # local rules: the submit host's small default
            assert int(r["mem_mb"]) <= 2000, (preset, rule, r)
    if preset in ("cifar100-resnet50", "seed-replay"):  # ResNet-50 at full scale: not one flat value
        assert len({res[r]["mem_mb"] for r in COMPUTE_RULES & set(res)}) > 2
        assert "gpu" in res["quantize"] and "gpu" not in res["prepare_data"] and "gpu" not in res["subset"]


@pytest.mark.parametrize("device,gpu", [("cpu", False), ("cuda", True), ("auto", True)])
def test_the_device_decides_whether_gpu_rules_ask_for_one(device, gpu, tmp_path):
    res = planned_resources(tmp_path, "--configfile", str(REPO / "presets" / "smoke.yaml"), config=[f"device={device}"])
    assert {r for r, v in res.items() if "gpu" in v} == (DEVICE_RULES & set(res) if gpu else set())
    assert {"prepare_data", "distance", "subset", "table"} <= set(res)


@pytest.fixture(scope="module")
def slurm():
    # jobs spend much of their time starting Python and Snakemake (twice: batch job and job step), so a
    # node advertising twice the machine's CPUs finishes the run sooner
    with LocalSlurm(oversubscribe=2) as cluster:
        yield cluster


def run_profile(workdir, *args, timeout=TIMEOUT):
    """`snakemake --profile slurm ...` from the repository root; on timeout the process group is killed and
    the jobs it submitted are cancelled. Returns (returncode or None on timeout, output, SLURM job ids)."""
    cmd = [
        sys.executable, "-m", "snakemake", "--profile", "slurm", "--snakefile", str(REPO / "Snakefile"),
        "--directory", str(workdir), *args,
    ]
    out_file = workdir / "snakemake.out"
    with open(out_file, "w") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            rc = None
            os.killpg(proc.pid, signal.SIGINT)  # snakemake cancels its SLURM jobs on SIGINT
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    text = out_file.read_text(errors="replace")
    job_ids = re.findall(r"submitted with SLURM jobid (\d+)", text)
    if rc is None and job_ids:  # whatever SIGINT did not cancel
        subprocess.run(["scancel", *job_ids], capture_output=True, timeout=30)
    return rc, text, job_ids


@pytest.fixture
def workdir(tmp_path):
    """tmp_path, or a fresh directory under $LAQ_SLURM_SHARED_DIR for a cluster whose nodes share it."""
    shared = os.environ.get(SHARED_DIR_ENV)
    if not shared:
        return tmp_path
    Path(shared).mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="laq-slurm-test-", dir=shared))


@pytest.mark.slow
@pytest.mark.slurm
def test_smoke_preset_through_slurm(slurm, workdir):
    preset = REPO / "presets" / "smoke.yaml"
    start = time.monotonic()
    rc, out, job_ids = run_profile(
        workdir,
        "--configfile", str(preset),
        # the profile's 40 s before the first status check suits a real cluster; small jobs want less
        "--slurm-init-seconds-before-status-checks", "5",
        "--slurm-keep-successful-logs",
    )
    elapsed = time.monotonic() - start
    print(f"snakemake --profile slurm: {elapsed:.0f} s, {len(job_ids)} SLURM jobs")
    context = f"\n{out[-6000:]}\n{slurm.log_tail()}"
    assert rc is not None, f"timed out after {TIMEOUT} s (jobs cancelled: {job_ids}){context}"
    assert rc == 0, f"snakemake failed ({rc}){context}"

    # the compute jobs went through SLURM: one log per job under .snakemake/slurm_logs/rule_<rule>/.../<id>.log
    assert job_ids, f"no job was submitted to SLURM{context}"
    logs = {p.stem: p for p in (workdir / ".snakemake" / "slurm_logs").rglob("*.log")}
    assert set(job_ids) <= set(logs), f"SLURM logs {sorted(logs)} do not cover the jobs {job_ids}"
    rules = {p.relative_to(workdir / ".snakemake" / "slurm_logs").parts[0] for p in logs.values()}
    assert {"rule_prepare_data", "rule_train_base", "rule_finetune", "rule_quantize"} <= rules, rules
    if not slurm.reused:  # our own cluster: its controller logged the allocations
        allocated = set(re.findall(r"(?:Allocate|Started|_job_complete:) JobId=(\d+)", slurm.ctld_log.read_text(errors="replace")))
        assert set(job_ids) <= allocated, f"slurmctld did not allocate {set(job_ids) - allocated}"

    # the table: one row per subset and calibration draw, accuracies in percent
    cfg = yaml.safe_load(preset.read_text())
    n_rows = sum(cfg["subsets"]["count"].values()) * cfg["quantization"]["draws"]
    model = cfg["model"]["name"]
    tables = sorted((workdir / "results" / cfg["dataset"]["name"] / "seed-0" / "tables").glob(f"{model}_*.csv"))
    tables = [t for t in tables if not t.stem.endswith(("_statistics", "_gains", "_mcnemar", "_decomposition", "_dose_response"))]
    assert sorted(t.stem[len(model) + 1 :] for t in tables) == sorted(s["name"] for s in cfg["quantization"]["specs"])
    for table in tables:
        with open(table, newline="") as f:
            rows = list(csv.DictReader(f))
        assert len(rows) == n_rows, table
        top1 = [c for c in rows[0] if c.endswith("_top1_all")]
        assert top1, f"no *_top1_all column in {table}: {list(rows[0])}"
        for row in rows:
            for c in top1:
                assert 0 <= float(row[c]) <= 100, (table, c, row[c])
