"""Ctrl-C and SIGTERM in the middle of a job (issue 24, item 1): the job removes its temporaries, says in one line
how to resume, leaves none of its outputs under their final names, and a plain re-run finishes the study with the
same tables, byte for byte, as an uninterrupted run."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import REPO, SUMMARY, run_snakemake

from laq.workflow import INTERRUPTED

SMOKE = str(REPO / "presets" / "smoke.yaml")
ROOT = Path("results/glyphs100/seed-0")  # the study seed's outputs
DATA = Path("results/glyphs100")  # the prepared data, logs and benchmarks (shared by every seed)
FIGURES = ROOT / "figures"
QUANT = ROOT / "models/tiny/quantized/gpfq4/similar-k3-00"


def _interrupt(work: Path, sig: signal.Signals, ready, *targets: str, force: bool = False, config: tuple[str, ...] = ()) -> str:
    """Start snakemake for `targets`, send `sig` to its whole process group (as a terminal's Ctrl-C or a
    cluster's cancel does) once `ready()` holds, and return what it said."""
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(work), "--cores", "2",
           "--configfile", SMOKE, *(["--forcerun", *targets] if force else []),
           # a config override for this command only: re-run nothing else because of it
           *(["--config", *config, "--rerun-triggers", "mtime"] if config else []), "--", *targets]
    # as a terminal's Ctrl-C reaches it: a test run started in the background of a shell inherits SIGINT
    # ignored (POSIX: asynchronous commands without job control), and so would snakemake
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    while proc.poll() is None and time.time() < deadline and not ready():
        time.sleep(0.01)
    assert proc.poll() is None, "the job finished before it could be interrupted:\n" + proc.communicate()[0][-2000:]
    os.killpg(proc.pid, sig)
    said = proc.communicate(timeout=120)[0]
    assert proc.returncode != 0, said[-2000:]
    assert said.count(INTERRUPTED) == 1 and "Traceback" not in said and "KeyboardInterrupt" not in said, said[-4000:]
    stray = [str(p.relative_to(work)) for p in (work / "results").rglob("*.part*")]
    assert not stray, stray
    return said


def _log_says(path: Path, text: str):
    return lambda: path.exists() and text in path.read_text(errors="replace")


def test_interrupted_jobs_leave_nothing_half_done_and_a_plain_rerun_resumes(smoke_run, tmp_path):
    work = tmp_path / "interrupted"
    shutil.copytree(smoke_run, work, symlinks=True)  # copy2 keeps mtimes: the copy is up to date

    # mid-evaluate: Ctrl-C while the quantized models are being scored
    log = work / DATA / "logs/evaluate/0_gpfq4.log"
    log.unlink()
    # scoring all 30 smoke models in batches of 256 takes under half a second, a window Ctrl-C missed in CI:
    # one image a batch makes it seconds long (evaluate then re-runs for the plain command below anyway)
    _interrupt(work, signal.SIGINT, _log_says(log, "laq.stages INFO"), str(ROOT / "eval/tiny/spec-gpfq4.json"), force=True,
               config=("evaluation={batch_size: 1}",))
    assert not (work / ROOT / "eval/tiny/spec-gpfq4.json").exists()

    # a multi-output job mid-write: the heatmap is written (held under a temporary name), the pairs figure is not
    figures = sorted(p for p in (work / FIGURES).glob("similarity_*") if p.suffix in (".png", ".svg"))
    assert len(figures) >= 6
    for f in figures:
        f.unlink()
    said = _interrupt(work, signal.SIGINT, lambda: any((work / FIGURES).glob(".similarity_pairs.png.*")),
                      str(FIGURES / "similarity_heatmap.png"))
    assert not any(f.exists() for f in figures), "some outputs of the interrupted job appeared under their final names"
    assert "IncompleteFilesException" not in said

    # mid-quantize, by SIGTERM (a cluster's scancel, `timeout`): two of the eight models written, held back
    target = QUANT / "quant_aware-d0.safetensors"
    _interrupt(work, signal.SIGTERM, lambda: any((work / QUANT).glob(".quant_aware-d1.safetensors.*")), str(target), force=True)
    assert not (work / target).exists()

    # the plain command again: no --rerun-incomplete, no --unlock
    run_snakemake(work, "--cores", "2", "--configfile", SMOKE)
    assert all(f.exists() for f in figures)
    compared = 0
    for rel in sorted(p.relative_to(smoke_run) for p in (smoke_run / ROOT / "tables").glob("*.csv")):
        assert (work / rel).read_bytes() == (smoke_run / rel).read_bytes(), f"{rel} differs from the uninterrupted run"
        compared += 1
    assert compared >= 4
    assert not list((work / "results").rglob("*.part*"))
    SUMMARY["interrupts"] = f"SIGINT mid-evaluate and mid-plot, SIGTERM mid-quantize: plain re-run resumed, {compared} tables byte-identical"


def test_outputs_of_a_job_appear_together_or_not_at_all(tmp_path):
    from laq.io import atomic_path, outputs_together, temporaries_of

    a, b = tmp_path / "a.png", tmp_path / "b.json"
    try:
        with outputs_together():
            with atomic_path(a) as tmp:
                tmp.write_text("a")
            assert not a.exists() and len(temporaries_of(a)) == 1  # written, held back
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        pass
    assert not a.exists() and not b.exists() and not list(tmp_path.iterdir())
    with outputs_together():
        for p in (a, b):
            with atomic_path(p) as tmp:
                tmp.write_text(p.name)
        assert not a.exists()
    assert a.read_text() == "a.png" and b.read_text() == "b.json" and sorted(tmp_path.iterdir()) == [a, b]


def test_rule_logs_get_plain_periodic_progress_lines():
    import io

    from tqdm import tqdm

    from laq.workflow import PlainLog

    out, now = io.StringIO(), [0.0]
    log = PlainLog(out, every=10, clock=lambda: now[0])
    for i in tqdm(range(100), file=log, mininterval=0, miniters=1, desc="work"):
        now[0] += 1.0  # one second per step: a line every 10 s of the 100
        if i == 50:
            log.write("a message inside the loop\n")
        with tqdm(range(3), file=log, leave=False, position=1, mininterval=0, desc="inner") as inner:
            for _ in inner:
                pass
    log.write("\x1b[Adone\n")
    log.close()
    text = out.getvalue()
    assert "\r" not in text and "\x1b" not in text
    lines = text.splitlines()
    bars = [line for line in lines if line.startswith(("work:", "inner:"))]
    assert 9 <= len(bars) <= 12 and lines[-2].startswith("work: 100%"), lines  # one line per 10 s, and the last state
    assert "a message inside the loop" in lines and lines[-1] == "done" and "" not in lines


def test_no_control_characters_in_any_log_of_a_smoke_run(smoke_run):
    logs = list((smoke_run / DATA / "logs").rglob("*.log"))
    assert len(logs) > 10
    dirty = [str(p.relative_to(smoke_run)) for p in logs if any(c in p.read_text(errors="replace") for c in "\r\x1b")]
    assert not dirty, dirty
    quantize = next((smoke_run / DATA / "logs/quantize").glob("*.log")).read_text()
    assert "%|" in quantize  # the progress bars are there, as lines
