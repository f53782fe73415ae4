"""The conda env for `--sdm conda` installs what pyproject.toml declares, and every rule names it."""

import re
import tomllib

import yaml

from conftest import REPO


def test_conda_env_lists_the_same_packages_as_pyproject():
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    env = yaml.safe_load((REPO / "envs" / "laq.yaml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert sorted(p for p in pip if not p.startswith("-e")) == sorted(deps)
    assert "-e ../" in pip  # the laq library itself, relative to envs/
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python"))
    requires = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]
    assert python == "python" + requires


def test_every_rule_that_runs_code_names_the_env():
    blocks = [b for f in sorted((REPO / "rules").glob("*.smk")) for b in re.split(r"^rule ", f.read_text(), flags=re.M)[1:]]
    runs_code = [b for b in blocks if "script:" in b or "shell:" in b or "run:" in b]
    assert len(runs_code) >= 15
    for b in runs_code:
        assert 'conda:\n        "../envs/laq.yaml"' in b, b.split(":")[0]
    assert (REPO / "rules" / "../envs/laq.yaml").resolve() == (REPO / "envs" / "laq.yaml").resolve()
