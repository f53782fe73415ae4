import pandas as pd

from laq.plots import results
from laq.plots.mechanism import plot_decomposition
from laq.plots.style import apply_style
from laq.tables import read_table
from laq.workflow import job

with job(snakemake) as log:
    apply_style(snakemake.params.rc)
    inp, out = snakemake.input, snakemake.output
    title = results.figure_title(read_table(inp.table), inp.table, snakemake.wildcards.spec)
    for warning in plot_decomposition(pd.read_csv(inp.decomposition), out.figure, title=title):
        log.warning("%s", warning)
    log.info("wrote %s", out.figure)
