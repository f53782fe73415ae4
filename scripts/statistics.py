from laq.stats import decomposition_statistics, gain_statistics, write_statistics
from laq.tables import read_correct, read_table
from laq.workflow import job

with job(snakemake) as log:
    inp, out = snakemake.input, snakemake.output
    table = read_table(inp.table)
    correct = read_correct(inp.correct, table)
    summary, tests = gain_statistics(table, correct, seed=snakemake.params.seed)
    write_statistics(summary, out.gains)
    write_statistics(tests, out.mcnemar)
    write_statistics(decomposition_statistics(table, correct, seed=snakemake.params.seed), out.decomposition)
    for r in summary.itertuples():
        log.info("%s (%s): %+.2f pp [%.2f, %.2f], Wilcoxon p %.3g, draw SD %.2f pp", r.comparison, r.mode, r.mean_pp,
                 r.ci_low, r.ci_high, r.wilcoxon_p, r.draw_sd_pp)
