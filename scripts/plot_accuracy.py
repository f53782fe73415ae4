from laq.plots import results as plots
from laq.plots.style import apply_style
from laq.stats import figure_statistics, write_statistics
from laq.tables import per_subset, read_table
from laq.workflow import job

with job(snakemake) as log:
    apply_style(snakemake.params.rc)
    path, mode, spec = snakemake.input[0], snakemake.wildcards.mode, snakemake.wildcards.spec
    table = read_table(path)
    subsets = per_subset(table)  # the draws of a subset averaged: one point per subset
    title = plots.figure_title(table, path, spec)
    for warning in plots.plot_accuracy_vs_distance(subsets, mode, snakemake.output.figure, title=title):
        log.warning("%s", warning)
    stats = figure_statistics(subsets, mode, snakemake.params.seed)
    write_statistics(stats, snakemake.output.statistics)
    log.info("wrote %s and %s (%d subsets)", snakemake.output.figure, snakemake.output.statistics, len(subsets))
    for row in stats.itertuples():
        log.info("%s: mean top-1 %.2f [%.2f, %.2f], Spearman rho %.3f [%.3f, %.3f]", row.variant, row.mean_top1,
                 row.mean_ci_low, row.mean_ci_high, row.spearman_rho, row.rho_ci_low, row.rho_ci_high)
