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

from conftest import REPO, SUMMARY, run_snakemake

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


def _results_is_a_file(d: Path) -> tuple[dict, str, None]:
    (d / "taken").write_text("a file where the results folder should go")
    return {"results": str(d / "taken" / "results")}, "is a file, not a folder", None


def _bits_200000(d: Path) -> tuple[dict, str, None]:
    # generated: 200,000 entries would be an 800 kB case file
    return {"quantization": {"specs": [{"name": "g2", "method": "gpfq", "bits": [2] * 200_000}]}}, "a list of 200000 items [2, 2, 2, ...]", None


FILE_CASES = {
    "results-is-a-file": _results_is_a_file,
    "bits-list-200000": _bits_200000,
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


# Cases that also go through a real `snakemake -n` (one of each kind of check), to show the Snakefile
# stops with exactly the one line validation gives. The rest are validated in-process with the same
# config merge and the same function the Snakefile calls (a dry run costs ~3 s of start-up each); a
# case that in-process validation accepts is refused later in the Snakefile, so it gets a real dry run.
REAL_DRY_RUNS = {
    "bits-9", "subset-size-float", "spec-scalar-inf", "spec-name-trailing-newline", "rc-value-not-a-number",
    "random-count-over-combinations", "file-source-hostile-sidecar", "imagefolder-nested-folder",
}


def _dry_run(case, tmp_path) -> tuple[str, Path]:
    name, cfg, _, _ = case
    work = tmp_path / "work" / name
    work.mkdir(parents=True)
    proc = run_snakemake(work, "-n", "--configfile", str(cfg), timeout=120, check=False)
    err = proc.stderr.strip()
    if proc.returncode == 0 or "Traceback" in err:
        return f"rc={proc.returncode} stderr={err[-500:]!r}", work
    return err, work


def _in_process(case) -> str | None:
    """The one-line message the Snakefile would print, or None if validation accepts the config."""
    from snakemake.utils import update_config

    from laq.config import validate_config
    from laq.io import LaqError

    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    update_config(cfg, yaml.safe_load(case[1].read_text()))
    try:
        validate_config(cfg, REPO)
    except LaqError as e:
        return str(e)
    return None


def test_every_bad_config_is_rejected_before_any_job(tmp_path):
    cases = _cases(tmp_path)
    assert len(cases) >= 70
    said = {c[0]: _in_process(c) for c in cases}
    real = [c for c in cases if c[0] in REAL_DRY_RUNS or said[c[0]] is None]
    assert len(real) >= len(REAL_DRY_RUNS)
    with ThreadPoolExecutor(2) as pool:
        dry = dict(zip((c[0] for c in real), pool.map(lambda c: _dry_run(c, tmp_path), real)))
    failures = []
    for name, _, expect, marker in cases:
        outputs = [said[name]] if said[name] is not None else []
        if name in dry:
            err, work = dry[name]
            outputs.append(err)
            if (work / "results").exists():
                failures.append(f"{name}: the dry run created results/")
            if said[name] is not None and err != said[name]:
                failures.append(f"{name}: snakemake said {err!r}, validation {said[name]!r}")
        for out in outputs:
            lines = [line for line in out.splitlines() if line.strip()]
            if not (len(lines) == 1 and lines[0].startswith("config error:") and expect in lines[0] and "Traceback" not in out
                    and len(lines[0].replace(str(tmp_path / "files" / name), "")) <= 300):  # besides the case's folder
                failures.append(f"{name}: expected one line with {expect!r}, got {out[-500:]!r}")
        if marker is not None and marker.exists():
            failures.append(f"{name}: the hostile file's payload ran ({marker} exists)")
    SUMMARY["bad configs rejected with a one-line message"] = f"{len(cases) - len(failures)}/{len(cases)} ({len(dry)} through snakemake -n)"
    assert not failures, "\n".join(failures)
