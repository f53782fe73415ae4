"""The bad-input corpus, config cases: each must stop `snakemake -n` before any job, with one line naming
the key and no traceback.

Cases are data files, tests/bad_inputs/configs/<case>.yaml, each an override of the default config
whose first line is `# expect: <text the one-line message must contain>`. Cases that need a file
(a hostile sidecar, a subsets file, an image folder) are generated below.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

from conftest import SUMMARY, run_snakemake

CONFIGS = Path(__file__).parent / "bad_inputs" / "configs"


def _expectation(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name} must start with '# expect: <message fragment>'"
    return first.removeprefix("# expect: ")


def _hostile_file_source(d: Path) -> tuple[dict, str, Path]:
    """model.source: file: whose sidecar names a local torch.hub repo that writes a marker when imported."""
    repo, marker = d / "repo", d / "PWNED"
    repo.mkdir()
    (repo / "hubconf.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\ndependencies = []\ndef evil(**kw):\n    pass\n")
    (d / "m.safetensors").write_bytes(b"\0" * 16)
    meta = {"arch": f"torchhub:{repo}:evil", "num_classes": 10, "input_size": 32, "mean": [0.5] * 3, "std": [0.2] * 3,
            "classes": [str(i) for i in range(10)]}
    (d / "m.json").write_text(json.dumps(meta))
    return {"model": {"source": f"file:{d / 'm.safetensors'}", "train": {"epochs": 0}}}, "hubconf.py", marker


def _sidecar_is_a_list(d: Path) -> tuple[dict, str, None]:
    (d / "m.safetensors").write_bytes(b"\0" * 16)
    (d / "m.json").write_text("[1, 2, 3]")
    return {"model": {"source": f"file:{d / 'm.safetensors'}"}}, "not a JSON object", None


def _subsets_file_repeats(d: Path) -> tuple[dict, str, None]:
    (d / "subsets.tsv").write_text("0\t1\t2\n5,6,7\n2,1,0\n")
    return {"subsets": {"size": 3, "file": str(d / "subsets.tsv")}}, "line 3 repeats the subset of line 1", None


def _imagefolder(d: Path, broken: str) -> tuple[dict, str, None]:
    from PIL import Image

    for part in ("train", "test"):
        for c in ("a", "b", "c"):
            (d / "imgs" / part / c).mkdir(parents=True)
            Image.new("RGB", (4, 4)).save(d / "imgs" / part / c / "0.png")
    if broken == "nested":
        (d / "imgs" / "train" / "a" / "more").mkdir()
        expect = "is a folder inside class folder"
    else:
        (d / "imgs" / "test" / "c" / "0.png").unlink()
        (d / "imgs" / "test" / "c").rmdir()
        expect = "lacks c"
    return {"dataset": {"name": "imagefolder", "root": str(d / "imgs")}, "subsets": {"size": 2}}, expect, None


FILE_CASES = {
    "file-source-hostile-sidecar": _hostile_file_source,
    "file-source-sidecar-list": _sidecar_is_a_list,
    "subsets-file-repeats": _subsets_file_repeats,
    "imagefolder-nested-folder": lambda d: _imagefolder(d, "nested"),
    "imagefolder-test-class-missing": lambda d: _imagefolder(d, "missing"),
}


def _cases(tmp_path: Path) -> list[tuple[str, Path, str, Path | None]]:
    """(name, config file, expected fragment, marker that must stay absent)."""
    cases = [(p.stem, p, _expectation(p), None) for p in sorted(CONFIGS.glob("*.yaml"))]
    for name, make in FILE_CASES.items():
        d = tmp_path / "files" / name
        d.mkdir(parents=True)
        override, expect, marker = make(d)
        cfg = d / "bad.yaml"
        cfg.write_text(yaml.safe_dump(override))
        cases.append((name, cfg, expect, marker))
    return cases


def _run(case, tmp_path):
    name, cfg, _, _ = case
    work = tmp_path / "work" / name
    work.mkdir(parents=True)
    return run_snakemake(work, "-n", "--configfile", str(cfg), timeout=120, check=False), work


def test_every_bad_config_is_rejected_before_any_job(tmp_path):
    cases = _cases(tmp_path)
    assert len(cases) >= 70
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda c: _run(c, tmp_path), cases))
    failures = []
    for (name, _, expect, marker), (proc, work) in zip(cases, results):
        err = proc.stderr.strip()
        lines = [l for l in err.splitlines() if l.strip()]
        ok = (
            proc.returncode != 0
            and "Traceback" not in err
            and len(lines) == 1
            and lines[0].startswith("config error:")
            and expect in lines[0]
            and not (work / "results").exists()
            and (marker is None or not marker.exists())
        )
        if not ok:
            failures.append(f"{name}: rc={proc.returncode} expected {expect!r}, stderr={err[-500:]!r}")
    SUMMARY["bad configs rejected with a one-line message"] = f"{len(cases) - len(failures)}/{len(cases)}"
    assert not failures, "\n".join(failures)
