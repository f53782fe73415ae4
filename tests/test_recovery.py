"""Stale and damaged results on the smoke preset: a changed input file re-runs exactly what reads it, and
the recovery command an error message gives really rebuilds the damaged file (issue 13, items 3 and 4)."""

from __future__ import annotations

import json
import re
import shlex
import shutil
from pathlib import Path

import yaml

from conftest import REPO, SUMMARY, run_snakemake

SMOKE = str(REPO / "presets" / "smoke.yaml")
ROOT = Path("results/glyphs100/seed-0")  # the study seed's outputs
DATA = Path("results/glyphs100")  # the prepared data, logs and benchmarks (shared by every seed)


def _copy(smoke_run: Path, dest: Path) -> Path:
    shutil.copytree(smoke_run, dest, symlinks=True)  # copy2 keeps mtimes, so the copy is up to date
    return dest


def _planned(work: Path, override: dict | None, *targets: str, args: tuple[str, ...] = ()) -> dict[str, int]:
    """Rule -> jobs a dry run would execute for `targets` (none: the default) with the smoke preset plus `override`."""
    files = [SMOKE]
    if override:
        f = work.parent / f"{work.name}-override.yaml"
        f.write_text(yaml.safe_dump(override))
        files.append(str(f))
    out = run_snakemake(work, "-n", "--cores", "2", *args, "--configfile", *files, "--", *targets, timeout=180)
    said = out.stdout + out.stderr
    if "Nothing to be done" in said:
        return {}
    stats = said.split("Job stats:", 1)[1]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", stats, re.M) if m[1] != "total"}


def _make(work: Path, override: dict, *targets: str) -> None:
    f = work.parent / f"{work.name}-override.yaml"
    f.write_text(yaml.safe_dump(override))
    run_snakemake(work, "--cores", "2", "--configfile", SMOKE, str(f), "--", *targets, timeout=300)


def test_editing_a_file_the_workflow_reads_reruns_exactly_its_readers(smoke_run, tmp_path):
    work = _copy(smoke_run, tmp_path / "edit")
    inputs = tmp_path / "inputs"
    inputs.mkdir()

    # subsets.file: an input of the file- subset jobs only
    tsv = inputs / "subsets.tsv"
    tsv.write_text("0,1,2\n3,4,5\n")
    sub = {"subsets": {"file": str(tsv)}}
    targets = [str(ROOT / f"subsets/{s}.json") for s in ("file-k3-00", "file-k3-01", "similar-k3-00")]
    _make(work, sub, *targets)
    assert _planned(work, sub, *targets) == {}
    tsv.write_text("0,1,2\n3,4,6\n")
    assert _planned(work, sub, *targets) == {"subset": 2}  # both file subsets, not the similar one
    _make(work, sub, *targets)
    assert json.loads((work / targets[1]).read_text())["classes"] == [3, 4, 6]

    # model.source file: the checkpoint and its sidecar are inputs of train_base
    src = inputs / "src.safetensors"
    shutil.copy(work / ROOT / "models/tiny/base.safetensors", src)
    shutil.copy(work / ROOT / "models/tiny/base.json", src.with_suffix(".json"))
    fromfile = {"model": {"name": "fromfile", "source": f"file:{src}", "train": {"epochs": 0}}}
    base = str(ROOT / "models/fromfile/base.safetensors")
    _make(work, fromfile, base)
    assert _planned(work, fromfile, base) == {}
    meta = json.loads(src.with_suffix(".json").read_text())
    src.with_suffix(".json").write_text(json.dumps({**meta, "note": "edited"}))
    assert _planned(work, fromfile, base) == {"train_base": 1}

    # imagefolder: the tree's fingerprint is a param of prepare_data
    from PIL import Image

    for part in ("train", "test"):
        for c in ("a", "b", "c", "d"):
            (inputs / "imgs" / part / c).mkdir(parents=True)
            for j in range(2):
                Image.new("RGB", (8, 8), (60 * j, 20, 20)).save(inputs / "imgs" / part / c / f"{j}.png")
    folder = {"dataset": {"name": "imagefolder", "root": str(inputs / "imgs"), "num_classes": None},
              "subsets": {"size": 2}, "quantization": {"calibration_images": 4}}
    classes = "results/imagefolder/data/classes.json"
    _make(work, folder, classes)
    assert _planned(work, folder, classes) == {}
    (inputs / "imgs" / "train" / "a" / ".DS_Store").write_bytes(b"\0")  # hidden: skipped, re-runs nothing
    assert _planned(work, folder, classes) == {}
    Image.new("RGB", (8, 8), (1, 2, 3)).save(inputs / "imgs" / "train" / "a" / "0.png")
    assert _planned(work, folder, classes) == {"prepare_data": 1}
    SUMMARY["edited input files re-run their readers"] = "subsets.file, file: checkpoint sidecar, imagefolder image"


def test_the_recovery_command_in_an_error_message_rebuilds_the_file(smoke_run, tmp_path):
    work = _copy(smoke_run, tmp_path / "recover")
    rel = ROOT / "models/tiny/quantized/gpfq4/similar-k3-00/quant_aware-d0.safetensors"
    original = (work / rel).read_bytes()
    (work / rel).write_bytes(original[:100])  # truncated, e.g. by a full disk outside laq

    proc = run_snakemake(work, "--cores", "2", "--configfile", SMOKE, check=False)
    said = proc.stdout + proc.stderr
    lines = [line for line in said.splitlines() if line.startswith("laq: ")]
    assert proc.returncode != 0 and len(lines) == 1 and "Traceback" not in said, said[-3000:]
    command = shlex.split(re.search(r"`(snakemake [^`]+)`", lines[0])[1])
    assert command[:2] == ["snakemake", "--cores"] and str(rel) in command

    run_snakemake(work, *command[1:], "--configfile", SMOKE)  # what the message says, plus the run's config
    assert (work / rel).read_bytes() == original  # rebuilt, byte for byte
    assert (work / ROOT / "eval/tiny/spec-gpfq4.json").exists()
    assert _planned(work, None) == {}

    # the same command after deleting a file (Snakemake alone may treat a missing intermediate as temporary)
    correct = ROOT / "eval/tiny/spec-gpfq4_correct.safetensors"
    (work / correct).unlink()
    planned = _planned(work, None, args=("--forcerun", str(correct)))
    assert planned.get("evaluate") == 1 and planned.get("statistics") == 1, planned
    SUMMARY["recovery advice"] = f"`{' '.join(command[:4])} <file>` rebuilt a truncated checkpoint byte for byte"

