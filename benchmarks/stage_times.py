"""Per-stage time of a finished run, from Snakemake's `benchmark:` files.

    python benchmarks/stage_times.py results/glyphs100      # prints a Markdown table
"""

import sys
from pathlib import Path

import pandas as pd


def stage_times(root: Path) -> pd.DataFrame:
    rows = []
    for f in sorted((root / "benchmarks").glob("*/*.tsv")):
        b = pd.read_csv(f, sep="\t")
        rows.append({"rule": f.parent.name, "s": float(b["s"].iloc[-1]), "max_rss_mb": float(b["max_rss"].iloc[-1])})
    df = pd.DataFrame(rows)
    return (df.groupby("rule")
              .agg(jobs=("s", "size"), total_s=("s", "sum"), mean_s=("s", "mean"), max_rss_mb=("max_rss_mb", "max"))
              .sort_values("total_s", ascending=False).round(1))


if __name__ == "__main__":
    t = stage_times(Path(sys.argv[1] if len(sys.argv) > 1 else "results/glyphs100"))
    print(t.to_markdown() if hasattr(t, "to_markdown") else t.to_string())
    print(f"\nsum of job times: {t['total_s'].sum():.0f} s")
