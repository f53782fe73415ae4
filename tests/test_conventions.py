"""Snakemake's own conventions: `snakemake --lint` reports nothing and `snakefmt --check .` changes nothing."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_snakemake_lint_is_clean(tmp_path):
    # --lint exits 0 when it has nothing to say and 1 when it printed lints.
    r = subprocess.run(
        [sys.executable, "-m", "snakemake", "--lint", "--directory", str(tmp_path), "-s", str(ROOT / "Snakefile")],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Lints for" not in r.stdout + r.stderr


def test_snakefmt_check_is_clean():
    r = subprocess.run(["snakefmt", "--check", "."], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
