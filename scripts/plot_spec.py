from laq.plots import results as plots
from laq.plots.style import apply_style
from laq.workflow import job

with job(snakemake) as log:
    apply_style(snakemake.params.rc)
    path, out = snakemake.input[0], snakemake.output
    table = plots.read_table(path)
    title = plots.figure_title(table, path, snakemake.wildcards.spec, snakemake.params.spec)
    for warning in plots.plot_quant_drop(table, out.drop, title=title) + plots.plot_aware_gain(table, out.gain, title=title):
        log.warning("%s", warning)
    log.info("wrote %s and %s (%d subsets)", out.drop, out.gain, len(table))
