"""The conda env for `--sdm conda` installs what pyproject.toml declares, works from where Snakemake puts it,
and the jobs find the laq library without it being installed; every rule names the env."""

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib

import pytest
import yaml

from conftest import REPO


def _pip_entries() -> list[str]:
    env = yaml.safe_load((REPO / "envs" / "laq.yaml").read_text())
    return next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))


def test_conda_env_lists_the_same_packages_as_pyproject():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert sorted(_pip_entries()) == sorted(project["dependencies"])
    env = yaml.safe_load((REPO / "envs" / "laq.yaml").read_text())
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python"))
    assert python == "python" + project["requires-python"]


def test_the_env_file_works_from_where_snakemake_copies_it(tmp_path):
    """Snakemake copies the env file to .snakemake/conda/<hash>.yaml; conda then writes its pip entries to a
    requirements file beside that copy and runs pip there. Doing the same, pip must accept every entry (a path
    such as `-e ../` would name .snakemake/, not the repository)."""
    conda_dir = tmp_path / "work" / ".snakemake" / "conda"
    conda_dir.mkdir(parents=True)
    copy = conda_dir / "0123456789abcdef.yaml"
    shutil.copy(REPO / "envs" / "laq.yaml", copy)
    pip = next(d["pip"] for d in yaml.safe_load(copy.read_text())["dependencies"] if isinstance(d, dict))
    requirements = conda_dir / "condaenv.test.requirements.txt"
    requirements.write_text("\n".join(pip) + "\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    report = tmp_path / "pip-report.json"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--no-deps", "--no-index", "--no-build-isolation",
         "--quiet", "--report", str(report), "-r", requirements.name],
        cwd=conda_dir, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    # every entry is a package the index provides (here: already installed), none is built from a local path
    assert json.loads(report.read_text())["install"] == []


def test_jobs_find_the_library_without_it_being_installed(tmp_path):
    """A script job as Snakemake runs it in a conda env without laq: PYTHONPATH removed, the working directory
    elsewhere, and the script's own directory appended to sys.path by Snakemake's preamble."""
    code = f"""
import sys
from pathlib import Path
# hide the development install of laq (an editable finder and any path holding a laq package)
sys.meta_path = [f for f in sys.meta_path if "editable" not in getattr(f, "__module__", "")]
sys.path = [p for p in sys.path if not (Path(p or ".") / "laq").is_dir()]
try:
    import laq
    raise SystemExit("laq is still importable: the test does not hide it")
except ModuleNotFoundError:
    pass
sys.path.extend([{str(REPO / "scripts")!r}])  # what Snakemake's script preamble adds for a local script
import laq, laq.config, laq.workflow
assert Path(laq.__file__).resolve().parent == Path({str(REPO / "laq")!r}), laq.__file__
assert laq.config.SCHEMA.is_file(), laq.config.SCHEMA
print("ok")
"""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stdout + proc.stderr


@pytest.mark.skipif(not os.environ.get("LAQ_TEST_CONDA") or not shutil.which("conda"),
                    reason="builds the conda env for real: set LAQ_TEST_CONDA=1 on a machine with conda and network")
def test_snakemake_builds_the_env_and_a_job_runs_in_it(tmp_path):
    from conftest import run_snakemake

    smoke = str(REPO / "presets" / "smoke.yaml")
    run_snakemake(tmp_path, "--cores", "2", "--sdm", "conda", "--configfile", smoke, "--",
                  "results/glyphs100/data/classes.json", timeout=3600)
    assert (tmp_path / "results/glyphs100/data/classes.json").is_file()


def test_every_rule_that_runs_code_names_the_env():
    blocks = [b for f in sorted((REPO / "rules").glob("*.smk")) for b in re.split(r"^rule ", f.read_text(), flags=re.M)[1:]]
    runs_code = [b for b in blocks if "script:" in b or "shell:" in b or "run:" in b]
    assert len(runs_code) >= 15
    for b in runs_code:
        assert 'conda:\n        "../envs/laq.yaml"' in b, b.split(":")[0]
    assert (REPO / "rules" / "../envs/laq.yaml").resolve() == (REPO / "envs" / "laq.yaml").resolve()
