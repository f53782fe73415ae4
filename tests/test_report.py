"""The HTML report of a smoke run, parsed as a reader meets it (issue 24, item 4): findings once and first,
sections in reading order, every result captioned, captions proof-read and naming the series they show."""

from __future__ import annotations

import html
import json
import re

from conftest import REPO, run_snakemake

import yaml

from laq.design import VARIANT_LABELS, variants_for

SMOKE = str(REPO / "presets" / "smoke.yaml")
# the conditions the smoke run makes: the preset's, else the default config's
SMOKE_CONDITIONS = (yaml.safe_load(open(SMOKE)).get("quantization", {}).get("conditions")
                    or yaml.safe_load(open(REPO / "config.yaml"))["quantization"].get("conditions"))


def _script_var(page: str, name: str):
    m = re.search(r'<script id="%s">\s*var %s = (.*?);\s*</script>' % (name, name), page, re.S)
    assert m, f"no {name} in the report"
    return json.loads(m.group(1))


def _text(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", fragment or "")).split())


def test_report_reads_in_order_with_proofread_captions(smoke_run, tmp_path):
    out = tmp_path / "report.html"
    run_snakemake(smoke_run, "--configfile", SMOKE, "--report", str(out), timeout=180)
    page = out.read_text()
    categories = _script_var(page, "categories")
    results = _script_var(page, "results")
    front = _text(json.loads(re.search(r"var workflow_desc = (.*?);\n", page, re.S).group(1)))

    # the report's menu sorts sections by name: numbered names give the reading order
    names = sorted(categories, key=str.casefold)
    assert names == ["1 Findings", "2 Accuracy vs distance", "3 Label-aware gain", "4 Quantization cost",
                     "6 Class similarity", "8 Tables"], names
    assert list(categories["2 Accuracy vs distance"]) == ["gpfq4"]  # a subcategory per spec, not "Other"

    # the findings are on the front page, once, before the pointers to the sections
    title = "Findings: tiny on glyphs100, study seed 0"
    assert page.count(title) == 1 and front.index(title) < front.index("Read on in this order")
    assert all(title not in _text(r["caption"]) for r in results.values())

    files = {path.rsplit("/", 1)[1]: r for path, r in results.items()}
    assert {"tiny_gpfq4_mcnemar.csv", "base_metrics.json", "tiny_gpfq4_gains.csv"} <= set(files)
    for name, r in files.items():
        caption = _text(r["caption"])
        assert len(caption) > 100, f"{name} has no caption"
        # a template block that eats a space glues words to brackets: "(gpfq, bits 2)costs" (formulas like log(x) aside)
        glued = re.search(r"\)[A-Za-z]|(?<=[a-z])(?<!log)\((?!s\))", caption)
        assert not glued, f"{name}: words glued to a bracket near {caption[max(0, glued.start() - 40):glued.end() + 20]!r}"
        assert "{{" not in caption and "{%" not in caption and "System Message" not in caption, name
        assert r["labels"], f"{name} has no labels"
    series = {
        "tiny_gpfq4_all_median.png": [VARIANT_LABELS[v] for v in variants_for(SMOKE_CONDITIONS)],
        "tiny_gpfq4_quant_drop.png": ["label-aware", "label-agnostic", "mismatched", "fine-tuned"],
        "tiny_gpfq4_aware_gain.png": ["all classes", "outside the subset"],
    }
    for name, words in series.items():
        caption = _text(files[name]["caption"])
        assert all(w in caption for w in words), (name, [w for w in words if w not in caption])
    assert "(gpfq, bits 4) costs" in _text(files["tiny_gpfq4_quant_drop.png"]["caption"])
