import pandas as pd

from laq.plots import results as plots
from laq.plots.style import apply_style
from laq.tables import per_subset, read_table
from laq.workflow import job

with job(snakemake) as log:
    apply_style(snakemake.params.rc)
    inp, out = snakemake.input, snakemake.output
    table = read_table(inp.table)
    title = plots.figure_title(table, inp.table, snakemake.wildcards.spec)
    warnings = plots.plot_quant_drop(per_subset(table), out.drop, title=title)
    warnings += plots.plot_aware_gain(table, pd.read_csv(inp.gains), out.gain, title=title)
    for warning in warnings:
        log.warning("%s", warning)
    log.info("wrote %s and %s (%d subsets)", out.drop, out.gain, table["subset"].nunique())
