"""Config validation: the JSON schema first, then the checks a schema cannot express.

Every failure is a `LaqError` whose message is one line naming the key and what is allowed.
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import Any, Iterator

import jsonschema
import yaml

from laq.io import LaqError, brief, one_line

SCHEMA = Path(__file__).resolve().parent.parent / "schemas" / "config.schema.yaml"
DATASET_CLASSES = {"glyphs100": 100, "cifar100": 100, "cifar10": 10}
# training images per class of the built-in datasets (glyphs100 generates dataset.train_per_class, default 500)
DATASET_TRAIN_PER_CLASS = {"glyphs100": 500, "cifar100": 500, "cifar10": 5000}


def _where(path: Any) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(top level)"


_SCHEMA_LINE = 240  # + "config error: " + " (N more problem(s) after fixing this one)" <= MAX_LINE
_KINDS = {"integer": "an integer", "number": "a number", "string": "a string", "boolean": "true or false",
          "object": "a mapping", "array": "a list", "null": "null"}


def _allowed(schema: dict[str, Any], root: dict[str, Any] | None = None) -> str:
    """What a key accepts, as a noun phrase built from the schema's structure (type, enum, bounds,
    pattern, length), so that "use <phrase>" is a sentence for every key; descriptions are free text
    and are quoted separately (`_described`)."""
    if root is not None:
        schema = _resolve(schema, root)
    if "enum" in schema:
        return "one of " + ", ".join(map(str, schema["enum"]))
    if "oneOf" in schema or "anyOf" in schema:
        parts = [_allowed(s, root) for s in schema.get("oneOf", schema.get("anyOf"))]
        return ", ".join(parts[:-1]) + " or " + parts[-1] if len(parts) > 1 else parts[0]
    kinds = schema.get("type")
    if isinstance(kinds, list):
        return " or ".join(_allowed({**schema, "type": k}, root) for k in kinds)
    kind = _KINDS.get(kinds, "a value")
    bounds = ""
    lo, hi, xlo = schema.get("minimum"), schema.get("maximum"), schema.get("exclusiveMinimum")
    if lo is not None and hi is not None:
        bounds = f"in {lo}..{hi}"
    elif xlo is not None:
        bounds = f"> {xlo}" + (f" and <= {hi}" if hi is not None else "")
    elif lo is not None:
        bounds = f">= {lo}"
    elif hi is not None:
        bounds = f"<= {hi}"
    if kinds == "string":
        if "maxLength" in schema:
            bounds = f"of at most {schema['maxLength']} characters"
        elif schema.get("minLength"):
            kind = "a non-empty string"
        if "pattern" in schema:
            bounds = " ".join(x for x in (bounds, f"matching {schema['pattern']}") if x)
    if kinds == "array":
        n = schema.get("maxItems")
        items = _allowed(schema["items"], root) if isinstance(schema.get("items"), dict) else ""
        kind = ("a non-empty list" if schema.get("minItems") else "a list") + (f" of up to {n} entries" if n else "")
        kind += (", all different" if schema.get("uniqueItems") else "") + (f", each {items}" if items else "")
    if kinds == "object" and schema.get("required"):
        kind = f"a mapping with keys {', '.join(schema['required'])}"
    return " ".join(x for x in (kind, bounds) if x)


def _described(schema: dict[str, Any], where: str) -> str:
    """" (<key>: <description>)" when the schema describes the key, else ""."""
    text = schema.get("description")
    if not text:
        return ""
    text = " ".join(str(text).split())
    return f" ({where.rsplit('.', 1)[-1]}: {text if len(text) <= 100 else text[:97] + '...'})"


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = root["$defs"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _full_pattern(validator: Any, pattern: str, instance: Any, schema: dict[str, Any]) -> Iterator[jsonschema.ValidationError]:
    # JSON Schema's pattern is a search, and Python's `$` also matches before a final newline, so
    # "g4\n" would pass ^...$ and become part of a file name; the whole string must match.
    if validator.is_type(instance, "string") and re.fullmatch(pattern, instance) is None:
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


def _strict_integer(_checker: Any, instance: Any) -> bool:
    # JSON Schema counts 3.0 as an integer; laq would then build paths like k3.0 and call range(32.0)
    return isinstance(instance, int) and not isinstance(instance, bool)


StrictValidator = jsonschema.validators.extend(
    jsonschema.Draft202012Validator,
    validators={"pattern": _full_pattern},
    type_checker=jsonschema.Draft202012Validator.TYPE_CHECKER.redefine("integer", _strict_integer),
)


def non_finite(node: Any, path: tuple[Any, ...] = ()) -> tuple[tuple[Any, ...], float] | None:
    """(path, value) of the first NaN or infinity in a config tree, or None (schema bounds let NaN through)."""
    if isinstance(node, float) and not math.isfinite(node):
        return path, node
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for k, v in items:
        found = non_finite(v, (*path, k))
        if found:
            return found
    return None


# Size limits on any string and list of a config (the schema bounds what it names; these bound the rest)
MAX_STRING = 4096  # a path of PATH_MAX
MAX_LIST = 100_000
MAX_SPECS = 100


def too_big(node: Any, path: tuple[Any, ...] = ()) -> str | None:
    """A one-line message for the first string, key or list of the config beyond the size limits, or None."""
    if isinstance(node, str) and len(node) > MAX_STRING:
        return f"{_where(path)} = {brief(node)} is too long; use at most {MAX_STRING} characters."
    if isinstance(node, list) and len(node) > MAX_LIST:
        return f"{_where(path)} = {brief(node)} is too long; give at most {MAX_LIST} entries."
    if path == ("quantization", "specs") and isinstance(node, list) and len(node) > MAX_SPECS:
        return f"quantization.specs lists {len(node)} specs; give at most {MAX_SPECS} (each one is a quantization of every subset)."
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for k, v in items:
        if isinstance(k, str) and len(k) > 100:
            return f"unknown key {brief(k, 40)} in {_where(path)}; keys are short names (see schemas/config.schema.yaml)."
        found = too_big(v, (*path, k))
        if found:
            return found
    return None


def schema_errors(cfg: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    bad = non_finite(cfg)
    if bad:
        return [f"{_where(bad[0])} = {bad[1]} is not allowed; use a finite number."]
    big = too_big(cfg)
    if big:
        return [big]
    validator = StrictValidator(schema)
    msgs = []
    for err in sorted(validator.iter_errors(cfg), key=lambda e: list(map(str, e.absolute_path))):
        where = _where(err.absolute_path)
        value = brief(err.instance)
        if err.validator == "type" and isinstance(err.instance, float) and err.instance.is_integer() and "integer" in str(err.validator_value):
            msgs.append(f"{where} = {value} is not allowed; write a whole number without a decimal point ({int(err.instance)}).")
        elif err.validator == "additionalProperties":
            extra = sorted(map(str, set(err.instance) - set(err.schema.get("properties", {}))))
            allowed = ", ".join(sorted(err.schema.get("properties", {})))
            dotted = next((k for k in extra if "." in k), None)
            if dotted:
                head, rest = dotted.split(".", 1)
                msgs.append(f"unknown key {brief(dotted, 40)} in {where}; Snakemake does not split dotted keys, so nest it ({head}: {{{rest}: ...}}) in a --configfile.")
            else:
                msgs.append(f"unknown key {'/'.join(k if len(k) <= 40 else brief(k, 40) for k in extra[:3])} in {where}; allowed keys: {allowed}.")
        elif err.validator == "required":
            msgs.append(f"{where} is missing {err.message.split(' is a required')[0]}.")
        else:
            sub = _resolve(err.schema, schema)
            node = _key_schema(schema, list(err.absolute_path)) or sub  # its description sits beside a $ref
            msg = f"{where} = {value} is not allowed; use {_allowed(sub, schema)}"
            described = _described(node, where)
            # the description only where the line stays short (with "config error: " and "(N more ...)")
            msgs.append(f"{msg}{described if len(msg) + len(described) <= _SCHEMA_LINE else ''}.")
    return msgs


def _key_schema(schema: dict[str, Any], path: list[Any]) -> dict[str, Any] | None:
    """The schema node of the config key at `path` (through properties, items and $refs)."""
    node = schema
    for p in path:
        node = _resolve(node, schema) if "properties" not in node and "items" not in node else node
        if isinstance(p, int):
            node = node.get("items")
        else:
            node = node.get("properties", {}).get(p)
        if not isinstance(node, dict):
            return None
    return node


def _exists(path: str | os.PathLike, dir: bool = False) -> bool:
    """Path.is_file/is_dir, False (not a traceback) for a name the OS refuses (too long, NUL)."""
    try:
        return Path(path).is_dir() if dir else Path(path).is_file()
    except (OSError, ValueError):
        return False


def num_classes(dataset: dict[str, Any], layout: Any = None) -> int | None:
    """Number of classes the configured dataset will have (None when unknown before loading)."""
    n = DATASET_CLASSES.get(dataset["name"])
    if layout is not None:
        n = len(layout.classes)
    if dataset.get("num_classes"):
        n = min(n, dataset["num_classes"]) if n else dataset["num_classes"]
    return n


def train_images_per_class(dataset: dict[str, Any], layout: Any = None) -> list[int] | None:
    """Training images of each class after dataset.train_per_class (None when unknown before loading)."""
    cap = dataset.get("train_per_class")
    if layout is not None:
        counts = [0] * len(layout.classes)
        for label, _ in layout.files["train"]:
            counts[label] += 1
    elif dataset["name"] in DATASET_TRAIN_PER_CLASS:
        n = num_classes(dataset) or 0
        per = cap if dataset["name"] == "glyphs100" and cap else DATASET_TRAIN_PER_CLASS[dataset["name"]]
        counts = [per] * n
    else:
        return None
    counts = counts[: dataset.get("num_classes") or len(counts)]
    return [min(c, cap) if cap else c for c in counts]


def _dataset_errors(ds: dict[str, Any]) -> tuple[list[str], Any]:
    from laq.data.imagefolder import scan_imagefolder

    msgs, layout = [], None
    if ds["name"] == "imagefolder":
        if not ds.get("root"):
            msgs.append("dataset.root is required when dataset.name is imagefolder; give the folder with train/ and test/.")
        else:
            try:
                layout = scan_imagefolder(ds["root"])
            except LaqError as e:
                msgs.append(str(e) if str(e).startswith("dataset.root") else f"dataset.root: {e}")
    if ds["name"] in DATASET_CLASSES and ds.get("num_classes") and ds["num_classes"] > DATASET_CLASSES[ds["name"]]:
        msgs.append(f"dataset.num_classes = {ds['num_classes']} exceeds the {DATASET_CLASSES[ds['name']]} classes of {ds['name']}.")
    if ds["name"] in ("cifar100", "cifar10") and not ds.get("download", True):
        root = Path(ds.get("root") or "data")
        if not _exists(root, dir=True):
            msgs.append(f"dataset.root = {brief(str(root))} does not exist and dataset.download is false; set download: true or give the folder.")
    return msgs, layout


def _model_errors(m: dict[str, Any], n: int | None) -> list[str]:
    from laq.models.arch import check_arch, check_meta

    msgs = []
    if m["source"] == "train":
        if (m.get("depth", 8) - 2) % 6:
            msgs.append(f"model.depth = {m['depth']} is not allowed; it must be 6n+2 (8, 14, 20, 32, ...).")
        elif n:
            try:
                check_arch(f"cifar_resnet:{m.get('depth', 8)}:{m.get('width', 16)}", n, where="model (depth, width) as")
            except LaqError as e:
                msgs.append(str(e))
        if not m.get("train", {}).get("epochs"):
            msgs.append("model.train.epochs must be >= 1 when model.source is train (the model starts untrained).")
    if m["source"].startswith("file:"):
        path = Path(m["source"][5:])
        side = path.with_suffix(".json")
        if not _exists(path):
            msgs.append(f"model.source file {brief(str(path))} does not exist; give the path of a laq .safetensors checkpoint.")
        elif not _exists(side):
            msgs.append(f"model.source file {brief(str(path))} has no sidecar {side.name}; give a checkpoint written by laq (with its .json).")
        else:
            # the sidecar is data: checked here, at dry-run time, before any job could build what it names
            try:
                meta = json.loads(side.read_text()) if side.stat().st_size < 50 << 20 else None
                check_meta(meta, f"model.source sidecar {side}", advice="give a checkpoint written by laq")
            except (ValueError, OSError) as e:
                msgs.append(f"model.source sidecar {side} is not readable JSON ({type(e).__name__}); give a checkpoint written by laq.")
            except LaqError as e:
                msgs.append(str(e))
    return msgs


def _subset_errors(cfg: dict[str, Any], n: int | None) -> list[str]:
    from laq.subsets import read_subsets_file, sizes_of

    msgs = []
    sub = cfg["subsets"]
    sizes = sizes_of(sub["size"])
    counts = sub.get("count", {})
    if not any(counts.values()) and not sub.get("file"):
        msgs.append("subsets.count has no subsets and subsets.file is not set; ask for at least one subset.")
    for size in sizes:
        if n is not None and size > n:
            msgs.append(f"subsets.size = {size} exceeds the {n} classes of the dataset; use 2..{n}.")
            continue
        if n is not None:
            # distinct subsets that exist: greedy ones grow from one start class each; random ones are size-sets
            limits = {"similar": n, "dissimilar": n, "random": math.comb(n, size)}
            for strategy, limit in limits.items():
                if (counts.get(strategy) or 0) > limit:
                    msgs.append(
                        f"subsets.count.{strategy} = {counts[strategy]} asks for more than the {limit} distinct {strategy} subsets of "
                        f"{size} of {n} classes; repeats would inflate the statistics, so ask for at most {limit}."
                    )
    if sub.get("file"):
        if len(sizes) != 1:
            msgs.append(f"subsets.file needs one subsets.size (its lines' length), not the list {sizes}; give a single size.")
        elif not Path(sub["file"]).is_file():
            msgs.append(f"subsets.file = {sub['file']!r} does not exist; give a TSV with one subset per line.")
        else:
            try:
                read_subsets_file(sub["file"], None, size=sizes[0])
            except LaqError as e:
                msgs.append(f"subsets.file: {e}")
    return msgs


def _quantization_errors(cfg: dict[str, Any], n: int | None, per_class: list[int] | None) -> list[str]:
    import fnmatch

    from laq.models.arch import cifar_resnet_layers

    msgs = []
    q, m = cfg["quantization"], cfg["model"]
    from laq.quant.registry import spec_errors

    for i, spec in enumerate(q["specs"]):
        msgs += spec_errors(spec, f"quantization.specs[{i}]")
    names = [s["name"] for s in q["specs"]]
    dups = sorted({x for x in names if names.count(x) > 1})
    if dups:
        msgs.append(f"quantization.specs has duplicate names {', '.join(dups)}; give every spec a unique name.")
    if m["source"] == "train" and (m.get("depth", 8) - 2) % 6 == 0:
        # the layers are known without building the model: check skip patterns and bits lists now
        layers = [name for name, _ in cifar_resnet_layers(m.get("depth", 8), m.get("width", 16), n or 2)]
        for i, spec in enumerate(q["specs"]):
            skip = spec.get("skip", [])
            unused = [p for p in skip if not any(fnmatch.fnmatchcase(layer, p) for layer in layers)]
            if unused:
                msgs.append(f"quantization.specs[{i}].skip pattern {unused[0]!r} matches no layer of the model (layers: {', '.join(layers[:4])}, ..., fc).")
                continue
            kept = [layer for layer in layers if not any(fnmatch.fnmatchcase(layer, p) for p in skip)]
            if isinstance(spec["bits"], list) and len(spec["bits"]) != len(kept):
                msgs.append(f"quantization.specs[{i}].bits lists {len(spec['bits'])} values but the model has {len(kept)} layers to quantize; give {len(kept)} values.")
    from laq.design import CONDITION_BY_NAME, check_conditions
    from laq.subsets import sizes_of

    try:
        conditions = check_conditions(q.get("conditions"))
    except LaqError as e:
        return msgs + [str(e)]
    mixtures = [c for c in conditions if CONDITION_BY_NAME[c].subset_fraction is not None]
    if mixtures and q.get("calibration_mode", "fixed") == "per_layer":
        msgs.append(f"quantization.conditions {', '.join(mixtures)} fix the share of subset images, which per-layer batches "
                    "would not keep; use calibration_mode: fixed or leave them out.")
    size = max(sizes_of(cfg["subsets"]["size"]))
    if n and 2 * size > n and "mismatched" in conditions:  # laq.design: as many classes from outside the subset
        msgs.append(
            f"subsets.size = {size} leaves {n - size} classes outside a subset, too few for the mismatched-classes "
            f"control, which needs {size}; use subsets.size <= {n // 2} or leave mismatched out of quantization.conditions."
        )
    if per_class:  # every quantize job draws them, RTN included
        size = min(sizes_of(cfg["subsets"]["size"]))
        most = sum(sorted(per_class, reverse=True)[:size])
        for where, count in [("quantization.calibration_images", q.get("calibration_images", 0))] + [
            (f"quantization.specs[{i}].calibration_images", s["calibration_images"]) for i, s in enumerate(q["specs"]) if "calibration_images" in s
        ]:
            if count > most:
                msgs.append(
                    f"{where} = {count} exceeds the {most} training images of any {size} classes; use at most {most} "
                    "(laq never repeats or silently drops calibration images)."
                )
    return msgs


def _reference_errors(cfg: dict[str, Any]) -> list[str]:
    ref = cfg.get("reference")
    if not ref:
        return []
    names = [s["name"] for s in cfg["quantization"]["specs"]]
    msgs = []
    if ref["spec"] not in names:
        msgs.append(f"reference.spec = {brief(ref['spec'])} is not a quantization spec; use one of {', '.join(names)}.")
    if not _exists(ref["seed_log"]):
        msgs.append(f"reference.seed_log = {brief(ref['seed_log'])} does not exist; the seed's logs are in resources/seed/ (run from the repository root).")
    if not cfg["subsets"].get("file"):
        msgs.append("reference needs subsets.file listing the seed log's subsets (resources/seed/subsets_resnet50.tsv), so rows can be matched.")
    return msgs


def results_errors(results: str) -> list[str]:
    """The results folder must be a folder this process can write in (or creatable in one), checked by
    creating and removing a temporary file, so nothing is left behind by a dry run."""
    import tempfile

    path = Path(results)
    name_max = 255
    too_long = next((part for part in path.parts if len(part.encode()) > name_max), None)
    if too_long:
        return [f"results = {brief(results)} has a folder name longer than {name_max} bytes; use a shorter path."]
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        return [f"results = {brief(results)}: {brief(str(probe))} is a file, not a folder; use another results path."]
    try:
        with tempfile.TemporaryFile(dir=probe):
            pass
    except OSError as e:
        return [f"results = {brief(results)}: cannot write in {brief(str(probe))} ({e.strerror or type(e).__name__}); make it writable or set results to a writable folder."]
    return []


def embedder_errors(sim: dict[str, Any]) -> list[str]:
    """A torchvision embedder's weights name must be one torchvision knows (read from its enums; no network)."""
    embedder, weights = sim.get("embedder", "base"), sim.get("embedder_weights", "DEFAULT")
    if not embedder.startswith("torchvision:") or weights == "DEFAULT":
        return []
    import torchvision

    name = embedder.split(":", 1)[1]
    try:
        enum = torchvision.models.get_model_weights(name)
    except (ValueError, KeyError):
        return [f"similarity.embedder = {brief(embedder)} is not a torchvision model; use a name from torchvision.models.list_models()."]
    known = [k for k in enum.__members__ if k != "DEFAULT"]
    if weights not in known:
        return [f"similarity.embedder_weights = {brief(weights)} is not a weights name of torchvision {name}; use DEFAULT or one of {', '.join(known[:8])}."]
    return []


def semantic_errors(cfg: dict[str, Any], base_dir: Path) -> list[str]:
    from laq.plots.rc import check_rc

    ds = cfg["dataset"]
    msgs, layout = _dataset_errors(ds)
    msgs += results_errors(cfg["results"])
    msgs += embedder_errors(cfg["similarity"])
    n = num_classes(ds, layout)
    msgs += _model_errors(cfg["model"], n)
    msgs += _subset_errors(cfg, n)
    mf = cfg["similarity"].get("matrix_file")
    if mf and not Path(mf).is_file():
        msgs.append(f"similarity.matrix_file = {mf!r} does not exist; give a .npy or .csv CxC matrix, or null to compute it.")
    if cfg["similarity"].get("method") == "knn" and cfg["similarity"].get("distance", "kl") != "kl":
        msgs.append(f"similarity.distance = {cfg['similarity']['distance']!r} needs class Gaussians, which method knn does not fit; "
                    "use distance: kl with knn, or method umap_gaussian / pca_gaussian.")
    msgs += _quantization_errors(cfg, n, train_images_per_class(ds, layout))
    msgs += _reference_errors(cfg)
    try:
        check_rc(cfg["plots"].get("rc"))
    except LaqError as e:
        msgs.append(str(e))
    return msgs


def data_fingerprint(dataset: dict[str, Any]) -> str | None:
    """For an imagefolder dataset, a digest of its images' paths, sizes and mtimes (a param of
    prepare_data, so editing the folder re-runs it); None for datasets laq generates or downloads."""
    from laq.data.imagefolder import fingerprint, scan_imagefolder

    if dataset["name"] != "imagefolder" or not dataset.get("root"):
        return None
    return fingerprint(scan_imagefolder(dataset["root"]))


def with_methods(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with the registered quantization methods and their options in the spec items."""
    from laq.quant import registry

    props = schema["properties"]["quantization"]["properties"]["specs"]["items"]["properties"]
    props["method"] = {**props["method"], "enum": list(registry.methods())}
    from laq.design import CONDITIONS

    conds = schema["properties"]["quantization"]["properties"]["conditions"]
    conds["items"] = {**conds["items"], "enum": list(CONDITIONS)}  # one home: laq.design
    from laq.similarity import DISTANCES

    dist = schema["properties"]["similarity"]["properties"]["distance"]
    dist["enum"] = list(DISTANCES)  # one home: laq.similarity
    for m in registry.methods().values():
        for opt, frag in m.options.items():
            props.setdefault(opt, {k: v for k, v in frag.items() if k != "default"})
    return schema


def validate_config(cfg: dict[str, Any], base_dir: str | os.PathLike = ".") -> dict[str, Any]:
    """Raise LaqError (one line: the first problem, and how many more) unless `cfg` is valid."""
    schema = with_methods(yaml.safe_load(SCHEMA.read_text()))
    msgs = schema_errors(cfg, schema)
    if not msgs:
        try:
            msgs = semantic_errors(cfg, Path(base_dir))
        except OSError as e:  # a path the OS refuses (a name over 255 bytes, a NUL) wherever the config names one
            msgs = [f"a path in the config cannot be used ({e.strerror or type(e).__name__}: {brief(e.filename)}); shorten or correct it."]
    if msgs:
        more = f" ({len(msgs) - 1} more problem(s) after fixing this one)" if len(msgs) > 1 else ""
        raise LaqError(one_line(f"config error: {msgs[0]}{more}"))
    return cfg


def typed_overrides(overrides: dict[str, Any]) -> dict[str, Any]:
    """The `--config` entries with their nested values typed as in a config file.

    Snakemake types a top-level value itself (`seed=3` is an integer) but reads `finetune={epochs: 2}` with
    YAML's base loader, which leaves every nested scalar a string ('2'). Nested strings that read as an
    integer, a number, true/false or null become one; other strings stay strings.
    """

    def scalar(s: Any) -> Any:
        if not isinstance(s, str):
            return s
        low = s.strip().lower()
        if low in ("null", "~"):
            return None
        if low in ("true", "false"):
            return low == "true"
        for parse in (int, float):
            try:
                return parse(s)
            except ValueError:
                pass
        return s

    def walk(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items()}
        if isinstance(v, list):
            return [walk(x) for x in v]
        return scalar(v)

    return {k: walk(v) if isinstance(v, (dict, list)) else v for k, v in overrides.items()}
