import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
os.environ.setdefault("OMP_NUM_THREADS", "2")


def run_snakemake(workdir: Path, *args: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess:
    """Run the repository's workflow with `workdir` as its working directory (results land there)."""
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(workdir), *args]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}")
    return proc


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory) -> Path:
    """One finished run of the smoke preset, shared by the tests that only read its outputs."""
    work = tmp_path_factory.mktemp("smoke")
    run_snakemake(work, "--cores", "2", "--configfile", str(REPO / "presets" / "smoke.yaml"))
    return work


# Counts that reliability tests want printed at the end of the run (issue: "counts printed in the test output").
SUMMARY: dict[str, str] = {}


def pytest_terminal_summary(terminalreporter):
    if SUMMARY:
        terminalreporter.section("laq reliability summary")
        for k, v in sorted(SUMMARY.items()):
            terminalreporter.write_line(f"{k}: {v}")
