import runpy
from pathlib import Path

import matplotlib
import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest

from laq.io import LaqError
from laq.plots import results as R
from laq.plots.style import VARIANT_STYLES, apply_style, figure_paths, save_figure
from laq.tables import bits_label, per_subset, read_table

REPO = Path(__file__).resolve().parent.parent
VARIANTS = tuple(VARIANT_STYLES)


SCHEDULES = {4: ("uniform", 4, 4, 4.0), "asc": ("asc", 3, 5, 4.0), "list": ("per-layer", 3, 5, 4.2)}


def synthetic_table(n_per: int = 4, *, seed: int = 0, method: str = "gpfq", bits=4, spec: str = "gpfq4", draws: int = 2) -> pd.DataFrame:
    """A long table with the columns of laq.tables.table_rows + write_table: 3 strategies x n_per subsets x draws."""
    rng = np.random.default_rng(seed)
    ranges = {"similar": (0.3, 3.0), "random": (5.0, 30.0), "dissimilar": (40.0, 90.0)}
    schedule, lo_bits, hi_bits, mean_bits = SCHEDULES[bits]
    rows = []
    for strategy, (lo, hi) in ranges.items():
        for i in range(n_per):
            d = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
            ld = np.log(d)
            level = {"original": 78 + 3 * ld, "quant_aware": 72 + 5 * ld, "quant_agnostic": 70 + 5.3 * ld,
                     "quant_mismatched": 69 + 5.3 * ld, "finetuned": 90 + 2 * ld, "finetuned_quant": 84 + 3.5 * ld,
                     "quant_density": 71 + 5.1 * ld, "quant_mix0": 69 + 5.2 * ld, "quant_mix25": 70 + 5.2 * ld,
                     "quant_mix50": 71 + 5.1 * ld}
            head = {
                "subset": f"{strategy}-k10-{i:02d}", "strategy": strategy, "size": 10,
                "classes": " ".join(map(str, sorted(rng.choice(100, 10, replace=False)))),
                "class_names": " ".join(f"class_{j}" for j in range(10)),
                "dist_min": d / 4, "dist_max": 3 * d, "dist_mean": 1.4 * d, "dist_median": d,
            }
            fixed = {v: float(np.clip(level[v] + rng.normal(0, 2.5), 0, 100)) for v in ("original", "finetuned")}
            for draw in range(draws):
                row = {**head, "draw": draw}
                for v in VARIANTS:
                    top1 = fixed.get(v, float(np.clip(level[v] + rng.normal(0, 2.5), 0, 100)))
                    row.update({f"{v}_top1_all": top1, f"{v}_top5_all": min(100.0, top1 + 15),
                                f"{v}_top1_sub": min(100.0, top1 + 6), f"{v}_top5_sub": min(100.0, top1 + 20)})
                row.update(sparsity=0.3, method=method, bits_schedule=schedule, bits_min=lo_bits, bits_max=hi_bits,
                           bits_mean=mean_bits, bits_per_weight=lo_bits + 0.9, size_bytes=123456, compression=7.9,
                           spec=spec, model="resnet8", dataset="glyphs100", seed=0, config_hash="0123456789abcdef")
                rows.append(row)
    return pd.DataFrame(rows).sort_values(["subset", "draw"], kind="stable").reset_index(drop=True)


@pytest.fixture(autouse=True)
def style():
    with matplotlib.rc_context():
        apply_style({"figure.dpi": 100, "font.size": 9})
        yield


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return synthetic_table()


def check_figure(path: Path) -> tuple[int, int]:
    """PNG and SVG both written, non-empty and decodable; returns the PNG's (height, width)."""
    png, svg = figure_paths(path)
    assert png.stat().st_size > 5000 and svg.stat().st_size > 5000
    assert "<svg" in svg.read_text()[:2000]
    image = mpimg.imread(png)
    assert image.ndim == 3 and image.shape[2] in (3, 4)
    h, w = image.shape[:2]
    assert h > 300 and w > 300
    leftovers = [p.name for p in png.parent.iterdir() if p.name.startswith(".")]
    assert not leftovers, leftovers
    return h, w


# -------------------------------------------------------------------------------------------- style


def test_variant_styles_are_distinct():
    assert VARIANT_STYLES["quant_aware"].label == "quantized (label-aware)"
    assert VARIANT_STYLES["finetuned_quant"].label == "fine-tuned + quantized"
    assert len({s.colour for s in VARIANT_STYLES.values()}) == len({s.marker for s in VARIANT_STYLES.values()}) == len(VARIANTS)


def test_apply_style_sets_defaults_then_user_rc():
    apply_style({"font.size": 11, "axes.grid": False})
    rc = matplotlib.rcParams
    assert matplotlib.get_backend().lower() == "agg"
    assert rc["font.size"] == 11 and rc["axes.grid"] is False
    assert rc["axes.spines.top"] is False and rc["axes.spines.right"] is False


def test_apply_style_rejects_unknown_key_and_bad_value():
    with pytest.raises(LaqError, match="'font.sise'.*font.size"):
        apply_style({"font.sise": 9})
    with pytest.raises(LaqError, match="'figure.dpi'"):
        apply_style({"figure.dpi": "lots"})
    assert matplotlib.rcParams["font.size"] == 9  # nothing was applied


def test_save_figure_writes_both_and_closes_pyplot_figures(tmp_path):
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(3, 2))
    fig.add_subplot().plot([0, 1], [1, 0])
    png, svg = save_figure(fig, tmp_path / "f.svg")
    assert (png.name, svg.name) == ("f.png", "f.svg") and png.exists() and svg.exists()
    assert not plt.fignum_exists(fig.number)


# ------------------------------------------------------------------------------------------ figures


def test_accuracy_vs_distance(tmp_path, table):
    # mode "sub" runs in test_scripts_follow_rules_plots_smk
    assert R.plot_accuracy_vs_distance(per_subset(table), "all", tmp_path / "acc.png", title="resnet8 on glyphs100") == []
    h, w = check_figure(tmp_path / "acc.png")
    assert w > h  # landscape, legend beside the axes
    assert w >= 7.4 * 150 * 0.8  # saved at 150 dpi at least
    with pytest.raises(ValueError, match="mode"):
        R.plot_accuracy_vs_distance(table, "top5", tmp_path / "bad.png", title="t")


def test_spec_figures_and_bits(tmp_path, table):
    assert R.plot_quant_drop(per_subset(table), tmp_path / "drop.png", title="t") == []
    gains = pd.DataFrame([{"comparison": c, "mode": m, "mean_pp": 1.0, "ci_low": 0.5, "ci_high": 1.5}
                          for c in ("aware_vs_agnostic", "aware_vs_mismatched") for m in ("all", "sub")])
    assert R.plot_aware_gain(table, gains, tmp_path / "gain.png", title="t") == []
    check_figure(tmp_path / "drop.png")
    h12, _ = check_figure(tmp_path / "gain.png")
    R.plot_aware_gain(synthetic_table(8, seed=1), None, tmp_path / "gain24.png", title="t")
    h24, _ = check_figure(tmp_path / "gain24.png")
    assert h24 > 1.4 * h12  # one row per subset
    tables = {
        "gpfq4": per_subset(table),
        "rtn-asc": per_subset(synthetic_table(seed=3, method="rtn", bits="asc", spec="rtn-asc")),
        "gpfq-list": per_subset(synthetic_table(seed=4, bits="list", spec="gpfq-list")),
    }
    assert R.plot_bits_vs_accuracy(tables, tmp_path / "bits.png", title="t") == []
    check_figure(tmp_path / "bits.png")


def test_degenerate_tables_still_give_figures(tmp_path, table):
    table = per_subset(table)
    same = table.assign(dist_median=7.0)  # all x equal: no fit
    warnings = R.plot_accuracy_vs_distance(same, "all", tmp_path / "same.png", title="t")
    assert len(warnings) == len(VARIANTS) and all("fit" in w and "distinct" in w for w in warnings)
    check_figure(tmp_path / "same.png")

    two = table.iloc[:2]  # two subsets: points but no fits
    assert len(R.plot_quant_drop(two, tmp_path / "two.png", title="t")) == len(R.DROPS)
    check_figure(tmp_path / "two.png")

    holes = table.drop(columns=["finetuned_top1_all"])
    holes.loc[:5, "dist_median"] = np.nan
    holes["quant_agnostic_top1_all"] = np.nan
    holes.loc[0, "dist_median"] = 0.0  # non-positive: linear axis, no fit
    warnings = R.plot_accuracy_vs_distance(holes, "all", tmp_path / "holes.png", title="t")
    assert any(w.startswith("quant_agnostic: no subset") for w in warnings)
    assert any("non-positive" in w for w in warnings)
    assert any("finetuned_top1_all" in w and "missing" in w for w in warnings)
    check_figure(tmp_path / "holes.png")

    empty = table.iloc[:0]
    assert R.plot_aware_gain(empty, None, tmp_path / "e1.png", title="t") == ["the table has no subsets"]
    assert R.plot_bits_vs_accuracy({"a": empty}, tmp_path / "e2.png", title="t")
    for name in ("e1", "e2"):
        check_figure(tmp_path / f"{name}.png")


# ------------------------------------------------------------------------------------------ labels


@pytest.mark.parametrize(
    "row,label",
    [({"bits_min": 4, "bits_max": 4, "bits_schedule": "uniform"}, "4 bits"),
     ({"bits_min": 5, "bits_max": 5, "bits_schedule": "per-layer"}, "5 bits"),
     ({"bits_min": 3, "bits_max": 5, "bits_schedule": "asc"}, "3→5 bits (asc)"),
     ({"bits_min": 3, "bits_max": 5, "bits_schedule": "desc"}, "5→3 bits (desc)"),
     ({"bits_min": 3, "bits_max": 4, "bits_schedule": "per-layer", "bits_mean": 3.6667}, "per-layer 3–4 bits (mean 3.7)")],
)
def test_bits_label_from_typed_columns(row, label):
    assert bits_label(row) == label


def test_titles_from_table_or_path(table):
    path = "results/glyphs100/tables/resnet8_gpfq4.csv"
    assert R.figure_title(table, path, "gpfq4") == "resnet8 on glyphs100 · gpfq4 (GPFQ, 4 bits)"
    bare = table.drop(columns=["model", "dataset"])
    assert R.table_context(bare, "results/cifar100/tables/resnet_50_gpfq-mp-asc.csv", "gpfq-mp-asc") == ("resnet_50", "cifar100")
    assert R.table_context(bare, "results/cifar100/seed-12/tables/resnet_50_gpfq4.csv", "gpfq4") == ("resnet_50", "cifar100")
    rtn = synthetic_table(seed=3, method="rtn", bits="asc", spec="rtn-asc")
    assert R.figure_title(rtn, path, "rtn-asc") == "resnet8 on glyphs100 · rtn-asc (RTN, 3→5 bits (asc))"


def test_read_table_errors(tmp_path):
    with pytest.raises(LaqError, match="does not exist"):
        read_table(tmp_path / "nope.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(LaqError, match="unreadable"):
        read_table(tmp_path / "empty.csv")
    pd.DataFrame({"subset": ["a"]}).to_csv(tmp_path / "old.csv", index=False)
    with pytest.raises(LaqError, match="dist_median"):
        read_table(tmp_path / "old.csv")


# ------------------------------------------------------------------------------------------ scripts


class _Named(list):
    def __init__(self, items=(), **named):
        super().__init__(list(items) + list(named.values()))
        self.__dict__.update(named)


class _Job:
    def __init__(self, rule, input, output, params, wildcards, log):
        self.rule, self.threads = rule, 1
        self.input, self.output, self.params, self.wildcards, self.log = input, output, params, wildcards, log


@pytest.mark.slow  # imports torch through laq.workflow (~2-3 s); the rest of this file takes a few seconds
def test_scripts_follow_rules_plots_smk(tmp_path):
    """The three scripts run with the inputs/outputs/params/wildcards that rules/plots.smk gives them."""
    root = tmp_path / "results" / "glyphs100"
    specs = {"gpfq4": {"method": "gpfq", "bits": 4}, "rtn-asc": {"method": "rtn", "bits": "asc"}}
    tables = []
    for i, (name, spec) in enumerate(specs.items()):
        t = synthetic_table(seed=i, method=spec["method"], bits=spec["bits"], spec=name).drop(columns=["model", "dataset"])
        tables.append(root / "tables" / f"resnet8_{name}.csv")
        tables[-1].parent.mkdir(parents=True, exist_ok=True)
        t.to_csv(tables[-1], index=False)
    rc = {"figure.dpi": 100}
    fig, logs = root / "figures", root / "logs"
    logs.mkdir(parents=True)
    runpy.run_path(str(REPO / "scripts" / "plot_accuracy.py"), init_globals={"snakemake": _Job(
        "plot_accuracy", _Named([str(tables[0])]),
        _Named(figure=str(fig / "resnet8_gpfq4_sub_median.png"), statistics=str(root / "tables" / "resnet8_gpfq4_sub_statistics.csv")),
        _Named(rc=rc, seed=0), _Named(spec="gpfq4", mode="sub"), _Named([str(logs / "acc.log")]))})
    gains = root / "tables" / "resnet8_rtn-asc_gains.csv"
    pd.DataFrame([{"comparison": "aware_vs_agnostic", "mode": "all", "mean_pp": 1.0, "ci_low": 0.5, "ci_high": 1.5}]).to_csv(gains)
    runpy.run_path(str(REPO / "scripts" / "plot_spec.py"), init_globals={"snakemake": _Job(
        "plot_spec", _Named(table=str(tables[1]), gains=str(gains)),
        _Named(drop=str(fig / "resnet8_rtn-asc_quant_drop.png"), gain=str(fig / "resnet8_rtn-asc_aware_gain.png")),
        _Named(rc=rc), _Named(spec="rtn-asc"), _Named([str(logs / "spec.log")]))})
    runpy.run_path(str(REPO / "scripts" / "plot_bits.py"), init_globals={"snakemake": _Job(
        "plot_bits", _Named([str(p) for p in tables]), _Named([str(fig / "resnet8_bits_vs_accuracy.png")]),
        _Named(rc=rc, specs=list(specs)), _Named(), _Named([str(logs / "bits.log")]))})
    for stem in ("resnet8_gpfq4_sub_median", "resnet8_rtn-asc_quant_drop", "resnet8_rtn-asc_aware_gain", "resnet8_bits_vs_accuracy"):
        check_figure(fig / f"{stem}.png")
    stats = pd.read_csv(root / "tables" / "resnet8_gpfq4_sub_statistics.csv")
    from laq.design import variants_in
    from laq.stats import COSTS, DIFFERENCES

    have = variants_in(pd.read_csv(tables[0]).columns)
    expected = len(have) + sum(a in have and b in have for _, a, b in DIFFERENCES) + sum(r in have and q in have for r, q in COSTS)
    assert len(stats) == expected and set(stats["mode"]) == {"sub"}
    assert "wrote" in (logs / "acc.log").read_text() and "wrote" in (logs / "bits.log").read_text()


# ------------------------------------------------------------------ issue 24: figures worth reading


@pytest.fixture
def captured(monkeypatch):
    """The figures the plotting functions would save (still open), instead of files."""
    from laq.plots import similarity as S

    figs = []

    def keep(fig, path, **kwargs):
        fig.canvas.draw()
        figs.append(fig)

    monkeypatch.setattr(R, "save_figure", keep)
    monkeypatch.setattr(S, "save_figure", keep)
    return figs


def test_distance_axis_ticks_share_one_format_and_fits_stay_in_range(table, captured):
    wide = table.copy()
    wide["dist_median"] = wide["dist_median"] * 20000  # 6,000 .. 1,800,000: both 100000 and 1e+06 on the axis
    wide["original_top1_all"] = np.where(wide["strategy"] == "dissimilar", 99.5, wide["original_top1_all"])
    subsets = per_subset(wide)
    R.plot_accuracy_vs_distance(subsets, "all", "unused.png", title="t")
    R.plot_quant_drop(subsets, "unused.png", title="t")
    x = subsets["dist_median"].to_numpy()
    for fig in captured:
        ax = fig.axes[0]
        lo, hi = ax.get_xlim()
        labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text() and lo <= t.get_position()[0] <= hi]
        assert len(labels) >= 3 and not any("e+" in s or "$" in s for s in labels), labels
        assert all("," in s for s in labels if float(s.replace(",", "")) >= 1000), labels
        fits = [line for line in ax.get_lines() if line.get_linestyle() == "--" and len(line.get_xdata()) > 10]
        assert fits
        for line in fits:
            xs, ys = np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)
            assert x.min() * 0.999 <= xs.min() and xs.max() <= x.max() * 1.001
            assert np.nanmax(ys) <= 100 and np.nanmin(ys) >= -100
    acc = captured[0].axes[0]
    assert max(np.nanmax(np.asarray(line.get_ydata(), float)) for line in acc.get_lines() if line.get_linestyle() == "--") <= 100


def test_distance_plots_colour_subsets_by_strategy(table, captured):
    from matplotlib.colors import to_hex

    from laq.plots.style import STRATEGY_COLOURS

    subsets = per_subset(table)
    R.plot_accuracy_vs_distance(subsets, "sub", "unused.png", title="t")
    R.plot_quant_drop(subsets, "unused.png", title="t")
    for fig in captured:
        ax = fig.axes[0]
        rug = {to_hex(line.get_color()): len(line.get_xdata()) for line in ax.get_lines() if line.get_marker() == "|"}
        counts = subsets["strategy"].value_counts()
        assert rug == {to_hex(STRATEGY_COLOURS[s]): n for s, n in counts.items()}
        legend = [t.get_text() for t in ax.get_legend().get_texts()]
        assert all(any(t.startswith(s) for t in legend) for s in ("similar classes", "dissimilar classes", "random classes"))


def test_histogram_has_no_single_bar_panel_and_heatmap_labels_are_legible(captured):
    from laq.plots import similarity as S

    rng = np.random.default_rng(0)
    c = 100
    pts = rng.normal(size=(c, 6)) * np.exp(rng.normal(size=(c, 1)))
    m = 1000 * np.exp(0.6 * np.abs(pts[:, None, :] - pts[None, :, :]).sum(-1))  # spans 20 decades, like KL can
    m = (m + m.T) / 2
    np.fill_diagonal(m, 0)
    S.plot_histogram(m, "unused.png")
    for ax in captured[0].axes:
        heights = np.array([p.get_height() for p in ax.patches])
        assert (heights > 0).sum() >= 10 and heights.max() < 0.5 * heights.sum(), "a panel is (nearly) one bar"
    S.plot_heatmap(m, [f"class {i}" for i in range(c)], "unused.png")
    ax = captured[1].axes[0]
    sizes = [t.get_fontsize() for t in ax.get_yticklabels()]
    assert len(sizes) == c and min(sizes) >= 5.0


def test_strategy_colours_are_not_variant_colours():
    from matplotlib.colors import to_hex

    from laq.plots.style import STRATEGY_COLOURS, VARIANT_STYLES

    variants = {to_hex(s.colour) for s in VARIANT_STYLES.values()}
    strategies = [to_hex(c) for c in STRATEGY_COLOURS.values()]
    assert len(set(strategies)) == len(strategies) and not set(strategies) & variants
