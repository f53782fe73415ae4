"""Config validation: the JSON schema first, then the checks a schema cannot express.

Every failure is a `LaqError` whose message is one line naming the key and what is allowed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from laq.io import LaqError

SCHEMA = Path(__file__).resolve().parent.parent / "schemas" / "config.schema.yaml"
DATASET_CLASSES = {"glyphs100": 100, "cifar100": 100, "cifar10": 10}


def _where(path: Any) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(top level)"


def _allowed(schema: dict[str, Any]) -> str:
    if "enum" in schema:
        return "one of " + ", ".join(map(str, schema["enum"]))
    if "description" in schema:
        return schema["description"]
    if "oneOf" in schema:
        return " or ".join(_allowed(s) for s in schema["oneOf"])
    if "pattern" in schema:
        return f"a string matching {schema['pattern']}"
    parts = []
    if "type" in schema:
        parts.append(schema["type"] if isinstance(schema["type"], str) else "/".join(schema["type"]))
    if "minimum" in schema:
        parts.append(f">= {schema['minimum']}")
    if "exclusiveMinimum" in schema:
        parts.append(f"> {schema['exclusiveMinimum']}")
    if "maximum" in schema:
        parts.append(f"<= {schema['maximum']}")
    return " ".join(map(str, parts)) or "see schemas/config.schema.yaml"


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = root["$defs"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def schema_errors(cfg: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft202012Validator(schema)
    msgs = []
    for err in sorted(validator.iter_errors(cfg), key=lambda e: list(map(str, e.absolute_path))):
        where = _where(err.absolute_path)
        if err.validator == "additionalProperties":
            extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
            allowed = ", ".join(sorted(err.schema.get("properties", {})))
            msgs.append(f"unknown key {'/'.join(extra)} in {where}; allowed keys: {allowed}.")
        elif err.validator == "required":
            msgs.append(f"{where} is missing {err.message.split(' is a required')[0]}.")
        else:
            sub = _resolve(err.schema, schema)
            if err.validator in ("oneOf", "enum", "pattern"):
                pass
            elif err.parent is None and "oneOf" not in sub:
                sub = {k: v for k, v in sub.items() if k != "description"} or sub
            msgs.append(f"{where} = {err.instance!r} is not allowed; it must be {_allowed(_resolve(sub, schema))}.")
    return msgs


def num_classes(dataset: dict[str, Any]) -> int | None:
    """Number of classes the configured dataset will have (None when unknown before loading)."""
    n = DATASET_CLASSES.get(dataset["name"])
    if dataset["name"] == "imagefolder" and dataset.get("root"):
        train = Path(dataset["root"]) / "train"
        if train.is_dir():
            n = sum(1 for p in train.iterdir() if p.is_dir())
    if dataset.get("num_classes"):
        n = min(n, dataset["num_classes"]) if n else dataset["num_classes"]
    return n


def semantic_errors(cfg: dict[str, Any], base_dir: Path) -> list[str]:
    msgs = []
    ds = cfg["dataset"]
    if ds["name"] == "imagefolder":
        if not ds.get("root"):
            msgs.append("dataset.root is required when dataset.name is imagefolder; give the folder with train/ and test/.")
        elif not (Path(ds["root"]) / "train").is_dir():
            msgs.append(f"dataset.root = {ds['root']!r} has no train/ folder; give a folder with train/<class>/ and test/<class>/.")
    if ds["name"] in DATASET_CLASSES and ds.get("num_classes") and ds["num_classes"] > DATASET_CLASSES[ds["name"]]:
        msgs.append(f"dataset.num_classes = {ds['num_classes']} exceeds the {DATASET_CLASSES[ds['name']]} classes of {ds['name']}.")
    if ds["name"] in ("cifar100", "cifar10") and not ds.get("download", True):
        root = Path(ds.get("root") or "data")
        if not root.is_dir():
            msgs.append(f"dataset.root = {str(root)!r} does not exist and dataset.download is false; set download: true or give the folder.")
    m = cfg["model"]
    if m["source"] == "train":
        if (m.get("depth", 8) - 2) % 6:
            msgs.append(f"model.depth = {m['depth']} is not allowed; it must be 6n+2 (8, 14, 20, 32, ...).")
        if not m.get("train", {}).get("epochs"):
            msgs.append("model.train.epochs must be >= 1 when model.source is train (the model starts untrained).")
    if m["source"].startswith("file:") and not Path(m["source"][5:]).exists():
        msgs.append(f"model.source file {m['source'][5:]!r} does not exist; give the path of a laq .safetensors checkpoint.")
    n = num_classes(ds)
    sub = cfg["subsets"]
    if n is not None and sub["size"] > n:
        msgs.append(f"subsets.size = {sub['size']} exceeds the {n} classes of the dataset; use 2..{n}.")
    counts = sub.get("count", {})
    if not any(counts.values()) and not sub.get("file"):
        msgs.append("subsets.count has no subsets and subsets.file is not set; ask for at least one subset.")
    if sub.get("file") and not Path(sub["file"]).is_file():
        msgs.append(f"subsets.file = {sub['file']!r} does not exist; give a TSV with one subset per line.")
    mf = cfg["similarity"].get("matrix_file")
    if mf and not Path(mf).is_file():
        msgs.append(f"similarity.matrix_file = {mf!r} does not exist; give a .npy or .csv CxC matrix, or null to compute it.")
    names = [s["name"] for s in cfg["quantization"]["specs"]]
    dups = sorted({x for x in names if names.count(x) > 1})
    if dups:
        msgs.append(f"quantization.specs has duplicate names {', '.join(dups)}; give every spec a unique name.")
    return msgs


def validate_config(cfg: dict[str, Any], base_dir: str | os.PathLike = ".") -> dict[str, Any]:
    """Raise LaqError (one line: the first problem, and how many more) unless `cfg` is valid."""
    schema = yaml.safe_load(SCHEMA.read_text())
    msgs = schema_errors(cfg, schema)
    if not msgs:
        msgs = semantic_errors(cfg, Path(base_dir))
    if msgs:
        more = f" ({len(msgs) - 1} more problem(s) after fixing this one)" if len(msgs) > 1 else ""
        raise LaqError(f"config error: {msgs[0]}{more}")
    return cfg
