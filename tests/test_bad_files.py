"""The bad-input corpus, damaged intermediate files: every reader refuses a file that breaks its format's
invariants, or contradicts the job reading it, with one line naming the file, the field and the fix
(`snakemake --cores all --forcerun <file>`). Each case damages one file the way a user or a crash could.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from laq.io import LaqError, write_json

REBUILD = "--forcerun"


def one_line(e: pytest.ExceptionInfo, *, names: str = "") -> str:
    """The message: one line naming `names`, at most 300 characters besides the file's folder (a temp
    folder here; results/<dataset>/... in a run)."""
    msg = str(e.value)
    assert msg and "\n" not in msg and names in msg, msg
    folder = str(Path(names).parent) if "/" in names else None
    assert len(msg.replace(folder, "") if folder else msg) <= 300, msg
    return msg


# ------------------------------------------------------------------------------ quantized checkpoints


def _meta(n=5):
    return {"arch": "cifar_resnet:8:4", "num_classes": n, "input_size": 16, "mean": [0.5] * 3, "std": [0.25] * 3,
            "classes": [f"c{i}" for i in range(n)], "preprocess": "resize"}


@pytest.fixture(scope="module")
def quantized(tmp_path_factory):
    """Real quantize-job outputs of a tiny model (one draw of each variant, spec gpfq 3 bits, per-channel steps)."""
    from laq.data.store import Split
    from laq.design import quantized_runs
    from laq.models.resnet import CifarResNet
    from laq.stages import quantize_subset

    d = tmp_path_factory.mktemp("q")
    torch.manual_seed(0)
    model = CifarResNet(8, 4, 5).eval()
    rng = np.random.default_rng(0)
    train = Split(rng.integers(0, 255, (40, 16, 16, 3), dtype=np.uint8), np.repeat(np.arange(5), 8))
    manifest = {"id": "random-k2-00", "classes": [0, 1]}
    spec = {"name": "g3", "method": "gpfq", "bits": 3, "granularity": "channel"}
    outputs = {(v, dr): str(d / f"{v}-d{dr}.safetensors") for v, dr in quantized_runs(1)}
    prov = {"base": {}, "finetuned": {}}
    quantize_subset((model, _meta()), (model, _meta()), train, manifest, spec, outputs, num_classes=5, n_images=4,
                    seed=0, batch_size=8, device="cpu", provenance_of=prov)
    return Path(outputs[("quant_aware", 0)])


def _copy(src: Path, dst: Path) -> Path:
    dst.mkdir(parents=True, exist_ok=True)
    for suffix in (".safetensors", ".json"):
        (dst / (src.stem + suffix)).write_bytes(src.with_suffix(suffix).read_bytes())
    return dst / src.name


def _rewrite(path: Path, edit) -> None:
    """Load every tensor and the header, let `edit(tensors, meta)` change them, save them back."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(path), framework="pt") as f:
        meta, tensors = dict(f.metadata()), {k: f.get_tensor(k) for k in f.keys()}
    edit(tensors, meta)
    save_file(tensors, str(path), metadata=meta)


def _first_layer(meta):
    layers = json.loads(meta["laq.layers"])
    return sorted(layers)[0], layers


def _codes_out_of_range(tensors, meta):
    from laq.quant.checkpoint import pack_codes

    name, layers = _first_layer(meta)
    n = int(np.prod(layers[name]["shape"]))
    codes = torch.full((n,), 3, dtype=torch.int16)  # 3 bits gpfq: L = 4; 9 is outside
    codes[0] = 9
    packed, width, offset = pack_codes(codes)
    tensors[f"{name}.weight.codes"] = packed
    layers[name].update(width=width, offset=offset)
    meta["laq.layers"] = json.dumps(layers, sort_keys=True)


def _step(value):
    def edit(tensors, meta):
        name, _ = _first_layer(meta)
        s = tensors[f"{name}.weight.step"].clone()
        s[0] = value
        tensors[f"{name}.weight.step"] = s
    return edit


def _sidecar(**changes):
    def edit(side):
        for dotted, v in changes.items():
            node, *keys = [side, *dotted.split("__")]
            for k in keys[:-1]:
                node = node[k]
            node[keys[-1]] = v
    return edit


CHECKPOINT_CASES = {
    "codes-outside-alphabet": (_codes_out_of_range, None, "outside [-4, 4] of 3 bits"),
    "step-nan": (_step(float("nan")), None, "non-finite or negative step"),
    "step-inf": (_step(float("inf")), None, "non-finite or negative step"),
    "step-negative": (_step(-0.5), None, "non-finite or negative step"),
    "step-zero-with-codes": (_step(0.0), None, "0 step for non-zero codes"),
    "sidecar-bits": (None, _sidecar(quantization__layer_bits=[4] * 10), "layer_bits"),
    "sidecar-method": (None, _sidecar(quantization__spec__method="gptq"), "spec.method"),
    "sidecar-alphabet": (None, _sidecar(quantization__spec__alphabet="signed"), "spec.alphabet"),
    "sidecar-draw": (None, _sidecar(quantization__calibration__draw=2), "calibration.draw"),
    "sidecar-variant": (None, _sidecar(quantization__variant="quant_agnostic"), "quantization.variant"),
    "sidecar-spec-name": (None, _sidecar(quantization__spec__name="g4"), "spec.name"),
    "sidecar-preprocess": (None, _sidecar(preprocess="resize_crop"), "preprocess"),
    "sidecar-normalisation": (None, _sidecar(mean=[0.4, 0.5, 0.5]), "mean"),
    "sidecar-classes": (None, _sidecar(classes=[f"x{i}" for i in range(5)]), "classes"),
    "sidecar-no-record": (None, lambda side: side.pop("quantization"), "no quantization record"),
}


@pytest.mark.parametrize("case", sorted(CHECKPOINT_CASES))
def test_damaged_or_contradictory_quantized_checkpoints_are_refused(quantized, tmp_path, case):
    from laq.stages import load_quantized_checkpoint

    edit_tensors, edit_side, expect = CHECKPOINT_CASES[case]
    path = _copy(quantized, tmp_path)
    if edit_tensors:
        _rewrite(path, edit_tensors)
    if edit_side:
        side = json.loads(path.with_suffix(".json").read_text())
        edit_side(side)
        write_json(path.with_suffix(".json"), side)
    with pytest.raises(LaqError) as e:
        load_quantized_checkpoint(str(path), expect={"variant": "quant_aware", "draw": 0})
    msg = one_line(e, names=str(path))
    assert expect in msg and REBUILD in msg


def test_a_checkpoint_read_as_another_variant_or_draw_is_refused(quantized):
    from laq.stages import load_quantized_checkpoint

    model, meta = load_quantized_checkpoint(str(quantized), expect={"variant": "quant_aware", "draw": 0})  # control
    assert meta["quantization"]["variant"] == "quant_aware"
    for expect in ({"variant": "quant_mismatched", "draw": 0}, {"variant": "quant_aware", "draw": 1}):
        with pytest.raises(LaqError) as e:
            load_quantized_checkpoint(str(quantized), expect=expect)
        assert "this job reads it as" in one_line(e, names=str(quantized))


def test_a_zero_step_is_accepted_where_the_row_is_all_zero(quantized, tmp_path):
    """The traversal zeroes the codes of a row whose step is 0 (an all-zero channel): that file is valid."""
    from laq.quant.checkpoint import pack_codes, unpack_codes
    from laq.stages import load_quantized_checkpoint

    def edit(tensors, meta):
        name, layers = _first_layer(meta)
        info = layers[name]
        n, rows = int(np.prod(info["shape"])), info["shape"][0]
        codes = unpack_codes(tensors[f"{name}.weight.codes"], n, info["width"], info["offset"]).reshape(rows, -1).clone()
        codes[0] = 0
        packed, info["width"], info["offset"] = pack_codes(codes)
        tensors[f"{name}.weight.codes"] = packed
        meta["laq.layers"] = json.dumps(layers, sort_keys=True)
        _step(0.0)(tensors, meta)

    path = _copy(quantized, tmp_path)
    _rewrite(path, edit)
    load_quantized_checkpoint(str(path), expect={"variant": "quant_aware", "draw": 0})


# ------------------------------------------------------------------------------ evaluation files


def _evaluation(ids=("random-k2-00", "similar-k2-00"), draws=2, quantized=True):
    from laq.design import QUANTIZED_VARIANTS
    from laq.tables import SPEC_COLUMNS

    variants = QUANTIZED_VARIANTS if quantized else ("finetuned",)
    entry = lambda d: {"top1_all": 50.0 + d, "top5_all": 90.0, "top1_sub": 60.0, "top5_sub": 95.5, "n_images": 20,
                       "sha256": "ab" * 32, **({"sparsity": 0.1} if quantized else {})}
    subsets = {}
    for sid in ids:
        subsets[sid] = {v: [entry(d) for d in range(draws if quantized else 1)] for v in variants}
        if quantized:
            subsets[sid]["quantization"] = {k: 1 for k in SPEC_COLUMNS}
    return {"spec": "g3", "subsets": subsets}


def _set(path: str, value):
    def edit(data):
        node, keys = data, path.split("/")
        for k in keys[:-1]:
            node = node[int(k)] if isinstance(node, list) else node[k]
        if value is KeyError:
            del node[keys[-1]]
        else:
            node[keys[-1]] = value
    return edit


S = "subsets/random-k2-00"
EVAL_CASES = {
    "accuracy-over-100": (_set(f"{S}/quant_aware/0/top1_all", 100.5), "top1_all = 100.5 is not an accuracy in [0, 100]"),
    "accuracy-negative": (_set(f"{S}/quant_aware/1/top5_sub", -1), "quant_aware[1].top5_sub = -1"),
    "accuracy-nan": (_set(f"{S}/quant_agnostic/0/top1_sub", float("nan")), "top1_sub = nan"),
    "accuracy-text": (_set(f"{S}/finetuned_quant/0/top1_all", "93.1"), "top1_all = '93.1'"),
    "accuracy-bool": (_set(f"{S}/finetuned_quant/0/top1_all", True), "top1_all = True"),
    "accuracy-missing": (_set(f"{S}/quant_aware/0/top5_all", KeyError), "top5_all = None"),
    "subset-missing": (_set(S, KeyError), "subsets.random-k2-00 is missing"),
    "variant-missing": (_set(f"{S}/quant_mismatched", KeyError), "quant_mismatched is missing"),
    "variant-empty": (_set(f"{S}/quant_mismatched", []), "quant_mismatched is missing or empty"),
    "draws-differ": (lambda d: d["subsets"]["random-k2-00"]["quant_aware"].pop(), "different numbers of draws"),
    "sparsity-over-1": (_set(f"{S}/quant_aware/0/sparsity", 1.5), "sparsity = 1.5"),
    "spec-columns-missing": (_set(f"{S}/quantization", {}), "quantization lacks method"),
    "not-a-mapping": (lambda d: d.update(subsets=[1, 2]), "subsets is missing or not a mapping"),
}


@pytest.mark.parametrize("case", sorted(EVAL_CASES))
def test_damaged_evaluation_files_are_refused(tmp_path, case):
    from laq.design import QUANTIZED_VARIANTS
    from laq.tables import read_evaluation

    ids = ["random-k2-00", "similar-k2-00"]
    path = tmp_path / "spec-g3.json"
    data = _evaluation(ids)
    write_json(path, data)
    assert set(read_evaluation(path, ids, QUANTIZED_VARIANTS)) == set(ids)  # control: the intact file reads
    edit, expect = EVAL_CASES[case]
    edit(data)
    write_json(path, data)
    with pytest.raises(LaqError) as e:
        read_evaluation(path, ids, QUANTIZED_VARIANTS)
    msg = one_line(e, names=str(path))
    assert expect in msg and REBUILD in msg


def test_a_finetuned_evaluation_needs_one_entry_per_subset(tmp_path):
    from laq.tables import read_evaluation

    path = tmp_path / "finetuned.json"
    write_json(path, _evaluation(["a-k2-00"], quantized=False))
    assert read_evaluation(path, ["a-k2-00"], ("finetuned",))["a-k2-00"]["finetuned"][0]["top1_all"] == 50.0
    with pytest.raises(LaqError) as e:
        read_evaluation(path, ["a-k2-00", "b-k2-00"], ("finetuned",))
    assert "b-k2-00 is missing" in one_line(e, names=str(path))


# ------------------------------------------------------------------------------ tables


def _table(tmp_path):
    from laq.design import METRICS, VARIANTS

    rows = []
    for s in range(3):
        for d in range(2):
            rows.append({"subset": f"random-k2-{s:02d}", "draw": d, "dist_min": 0.1, "dist_max": 2.0, "dist_mean": 1.0,
                         "dist_median": 0.9 + s, "sparsity": 0.05,
                         **{f"{v}_{m}": 40.0 + s + d for v in VARIANTS for m in METRICS}})
    return pd.DataFrame(rows)


def _cell(row, col, value):
    def edit(t):
        t = t.copy()
        t.loc[row, col] = value
        return t
    return edit


TABLE_CASES = {
    "accuracy-over-100": (lambda t: t.assign(quant_aware_top1_all=140.0), "quant_aware_top1_all = 140.0 is not a number in [0, 100]"),
    "accuracy-text": (lambda t: t.assign(original_top5_sub="x"), "original_top5_sub = 'x'"),
    "accuracy-blank": (_cell(3, "finetuned_top1_sub", np.nan), "line 5, column finetuned_top1_sub = nan"),
    "distance-negative": (_cell(0, "dist_median", -1.0), "dist_median = -1.0"),
    "column-missing": (lambda t: t.drop(columns="quant_aware_top5_sub"), "quant_aware_top5_sub missing"),
    "repeated-row": (_cell(1, "draw", 0), "line 3 repeats subset random-k2-00 draw 0"),
    "no-rows": (lambda t: t.iloc[:0], "has no rows"),
}


@pytest.mark.parametrize("case", sorted(TABLE_CASES))
def test_damaged_tables_are_refused(tmp_path, case):
    from laq.tables import read_table

    path = tmp_path / "resnet8_g3.csv"
    table = _table(tmp_path)
    table.to_csv(path, index=False)
    assert len(read_table(path)) == 6  # control
    edit, expect = TABLE_CASES[case]
    edit(table).to_csv(path, index=False)
    with pytest.raises(LaqError) as e:
        read_table(path)
    msg = one_line(e, names=str(path))
    assert expect in msg and REBUILD in msg


# ------------------------------------------------------------------------------ distance matrices


def _matrix(n=6):
    rng = np.random.default_rng(1)
    a = rng.random((n, n))
    m = a + a.T
    np.fill_diagonal(m, 0)
    return m


MATRIX_CASES = {
    "nan": (lambda m: m.__setitem__((1, 2), np.nan), "non-finite"),
    "inf": (lambda m: m.__setitem__((0, 3), np.inf), "non-finite"),
    "negative": (lambda m: (m.__setitem__((1, 2), -1.0), m.__setitem__((2, 1), -1.0)), "negative distances"),
    "asymmetric": (lambda m: m.__setitem__((4, 1), m[4, 1] + 1), "not symmetric"),
    "diagonal": (lambda m: m.__setitem__((2, 2), 0.5), "non-zero diagonal"),
}


@pytest.mark.parametrize("case", [*sorted(MATRIX_CASES), "wrong-size", "not-square", "bool", "pickled", "truncated", "missing"])
def test_damaged_distance_matrices_are_refused_with_the_rebuild_command(tmp_path, case):
    from laq.similarity import load_matrix

    path = tmp_path / "distance.npy"
    m = _matrix()
    np.save(path, m)
    assert np.array_equal(load_matrix(path, 6, produced=True), m)  # control: a produced matrix reads back unchanged
    if case in MATRIX_CASES:
        MATRIX_CASES[case][0](m)
        np.save(path, m)
    elif case == "wrong-size":
        np.save(path, _matrix(5))
    elif case == "not-square":
        np.save(path, m[:, :4])
    elif case == "bool":
        np.save(path, m > 0.5)
    elif case == "pickled":
        np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    elif case == "truncated":
        path.write_bytes(path.read_bytes()[:60])
    else:
        path.unlink()
    with pytest.raises(LaqError) as e:
        load_matrix(path, 6, produced=True)
    msg = one_line(e, names=str(path))
    assert REBUILD in msg and "distance matrix" in msg
    if case in MATRIX_CASES:
        assert MATRIX_CASES[case][1] in msg


# ------------------------------------------------------------------------------ subsets files


NAMES = ["apple", "bear", "cloud", "dolphin", "eagle"]


@pytest.mark.parametrize(
    "raw, expect",
    [
        (b"\xef\xbb\xbf0\t1\t2\r\n3\t4\t0\r\n", [[0, 1, 2], [3, 4, 0]]),  # BOM and CRLF (Excel, Notepad)
        (b"0\t\t1\t2\n", "empty class entry"),
        (b"0\t1\t2 \t\n3,4,0\n", [[0, 1, 2], [3, 4, 0]]),  # a trailing tab or space is ignored
        (b"apple\tbear\tcloud\n", [[0, 1, 2]]),
        (b"0;1;2\n", "separated by semicolons; separate classes with tabs"),
        (b"0 1 2\n", "separated by spaces"),
        (b"0|1|2\n", "separated by bars"),
        (b"0\t1\t" + b"9" * 5000 + b"\n", "out of range"),
        (b"0\t1\t7\n", "class index 7 is out of range; use 0..4"),
        (b"0\t-1\t2\n", "class index -1 is out of range"),
        (b"apple\tbear\tunicorn\n", "unknown class name 'unicorn'"),
        (b"\xff\xfe0\x001\x00\n", "cannot be read as text"),
    ],
    ids=["bom-crlf", "double-tab", "trailing-tab", "names", "semicolons", "spaces", "bars", "huge-index", "index-over",
         "index-negative", "unknown-name", "utf16"],
)
def test_subsets_files_one_delimiter_bom_and_crlf(tmp_path, raw, expect):
    from laq.subsets import read_subsets_file

    path = tmp_path / "subsets.tsv"
    path.write_bytes(raw)
    if isinstance(expect, list):
        assert read_subsets_file(path, NAMES, size=3) == expect
        assert len(read_subsets_file(path, None, size=3)) == len(expect)
        return
    with pytest.raises(LaqError) as e:
        read_subsets_file(path, NAMES, size=3)
    assert expect in one_line(e, names=str(path))


def test_a_huge_subsets_file_is_refused_before_reading(tmp_path, monkeypatch):
    from laq import subsets

    path = tmp_path / "subsets.tsv"
    path.write_text("0\t1\t2\n" * 10)
    monkeypatch.setattr(subsets, "_MAX_SUBSETS_FILE", 20)
    with pytest.raises(LaqError) as e:
        subsets.read_subsets_file(path, NAMES)
    assert "more than a subsets file can be" in one_line(e, names=str(path))


# ------------------------------------------------------------------------------ seed logs


SEED = Path(__file__).resolve().parent.parent / "resources" / "seed"
SEED_LOG = SEED / "Quantization_Log_resnet50_4bit.csv"


def _log_lines():
    return SEED_LOG.read_text().splitlines(keepends=True)


def _edit_cell(col, value, row=2):
    def edit(df):
        df[col] = df[col].astype(object)
        df.loc[row, col] = value
    return edit


SEED_CASES = {
    "truncated-row": ("truncate", "is blank (a truncated or edited row)"),
    "text-accuracy": (_edit_cell("Quantized Top1 Accuracy", "high"), "row 2: Quantized Top1 Accuracy = 'high' is not a finite number"),
    "blank-accuracy": (_edit_cell("Fine-Tuned Top5 Accuracy", np.nan), "row 2: Fine-Tuned Top5 Accuracy is blank"),
    "percentage": (_edit_cell("Original Top1 Accuracy", 76.7), "a percentage? the seed's logs hold fractions"),
    "negative-accuracy": (_edit_cell("Quant+FT Top1 Accuracy (Pick Sub)", -0.1), "is not a fraction in [0, 1]"),
    "negative-distance": (_edit_cell("Median_KL", -2.0), "row 2: Median_KL = -2.0 is negative"),
    "inf-distance": (_edit_cell("Avg_KL", "inf"), "Avg_KL = inf is not a finite number"),
    "class-out-of-range": (_edit_cell("Subset_Inds", "[0, 1, 2, 3, 4, 5, 6, 7, 8, 100]"), "class index 100 in Subset_Inds is out of range 0..99"),
    "class-negative": (_edit_cell("Subset_Inds", "[0, 1, 2, 3, 4, 5, 6, 7, 8, -3]"), "class index -3"),
    "class-text": (_edit_cell("Subset_Inds", "[0, 1, 'x']"), "is not a list of class indices"),
    "class-code": (_edit_cell("Subset_Inds", "__import__('os').system('true')"), "is not a list of class indices"),
    "class-twice": (_edit_cell("Subset_Inds", "[0, 0, 2, 3, 4, 5, 6, 7, 8, 9]"), "lists a class twice"),
}


@pytest.mark.parametrize("case", sorted(SEED_CASES))
def test_damaged_seed_logs_are_refused(tmp_path, case):
    from laq.seed import read_seed_log

    names = [str(n) for n in np.load(SEED / "cifar100_class_names.npy")]
    path = tmp_path / "log.csv"
    edit, expect = SEED_CASES[case]
    if edit == "truncate":
        text = "".join(_log_lines()[:5])
        path.write_text(text[: text.rindex("']\"") + 3] + "\n")  # the last row cut after its class names
    else:
        df = pd.read_csv(SEED_LOG)
        edit(df)
        df.to_csv(path, index=False)
    with pytest.raises(LaqError) as e:
        read_seed_log(path, names)
    msg = one_line(e, names=str(path))
    assert expect in msg and "resources/seed/" in msg


def test_seed_log_distances_are_the_subsets_medians_recomputed_from_the_seed_matrix():
    """Independent reference: every row's dist_* recomputed from the seed's KL matrix with numpy."""
    from laq.seed import read_seed_log

    kl = np.load(SEED / "cifar100_kl_div_matrix.npy")
    df = read_seed_log(SEED_LOG)
    for _, row in df.iterrows():
        c = [int(x) for x in row["classes"].split()]
        d = kl[np.ix_(c, c)][np.triu_indices(len(c), 1)]
        assert row["dist_median"] == pytest.approx(np.median(d), rel=1e-12)
        assert row["dist_mean"] == pytest.approx(d.mean(), rel=1e-12)
        assert (row["dist_min"], row["dist_max"]) == (pytest.approx(d.min(), rel=1e-12), pytest.approx(d.max(), rel=1e-12))
        assert row["dist_median"] != pytest.approx(row["dist_mean"], rel=1e-6)  # the two are told apart


def test_a_repeated_log_row_is_the_next_draw_of_the_same_subset_everywhere(tmp_path):
    """Log row 27 repeats row 18: the replay's subsets file, the log table and the comparison agree on it."""
    from laq.seed import compare, read_seed_log, write_subsets_file
    from laq.tables import per_subset

    df = read_seed_log(SEED_LOG)
    kept = write_subsets_file(SEED_LOG, tmp_path / "s.tsv")
    assert df["subset"].nunique() == len(kept) == len(df) - 1
    r18, r27 = df.iloc[18], df.iloc[27]
    assert r18["subset"] == r27["subset"] and (r18["draw"], r27["draw"]) == (0, 1)
    assert df.loc[28, "subset"] == "file-k10-27"  # the row after the repeat takes the next id, as in the subsets file
    mean = per_subset(df).set_index("subset").loc[r18["subset"], "quant_aware_top1_all"]
    assert mean == pytest.approx((r18["quant_aware_top1_all"] + r27["quant_aware_top1_all"]) / 2)
    cmp = compare(df, df)  # each log row against the subset's mean over its two rows
    rows = cmp[(cmp["variant"] == "quant_aware") & (cmp["metric"] == "top1_all")].set_index("seed_row")
    assert rows.loc[18, "ours"] == rows.loc[27, "ours"] == pytest.approx(mean)


# ------------------------------------------------------------------------------ per-image correctness


@pytest.mark.parametrize("case, expect", [
    ("missing-key", "lacks random-k2-01/quant_agnostic/top1_sub"),
    ("wrong-draws", "uint8 (3, 7), not 0/1 uint8 of 2 draws"),
    ("not-binary", "not 0/1 uint8"),
    ("float", "float32 (2, 7), not 0/1"),
])
def test_damaged_correctness_files_are_refused(tmp_path, case, expect):
    from laq.design import QUANTIZED_VARIANTS
    from laq.tables import read_correct, save_arrays

    table = _table(tmp_path)
    arrays = {f"{s}/{v}/top1_{m}": np.ones((2, 7), np.uint8) for s in table["subset"].unique() for v in QUANTIZED_VARIANTS for m in ("all", "sub")}
    path = tmp_path / "spec-g3_correct.safetensors"
    save_arrays(str(path), arrays)
    assert len(read_correct(path, table)) == len(arrays)  # control
    key = "random-k2-01/quant_agnostic/top1_sub"
    if case == "missing-key":
        del arrays[key]
    elif case == "wrong-draws":
        arrays[key] = np.ones((3, 7), np.uint8)
    elif case == "not-binary":
        arrays[key] = np.full((2, 7), 2, np.uint8)
    else:
        arrays[key] = np.ones((2, 7), np.float32)
    save_arrays(str(path), arrays)
    with pytest.raises(LaqError) as e:
        read_correct(path, table)
    msg = one_line(e, names=str(path))
    assert expect in msg and REBUILD in msg
