"""The conda env for `--sdm conda` must install what pyproject.toml declares."""

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


def test_snakefile_uses_the_env_globally():
    assert 'conda: "envs/laq.yaml"' in (REPO / "Snakefile").read_text()
