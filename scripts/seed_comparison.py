from laq.io import read_json
from laq.plots.style import apply_style
from laq.seed import compare, plot_comparison, read_seed_log, write_comparison
from laq.tables import read_table
from laq.workflow import job

with job(snakemake) as log:
    apply_style(snakemake.params.rc)
    cmp = compare(read_table(snakemake.input.table), read_seed_log(snakemake.input.log, read_json(snakemake.input.classes)["names"]))
    write_comparison(cmp, snakemake.output.table)
    top1 = cmp[cmp["metric"] == "top1_all"].groupby("variant", sort=False)["difference_pp"].mean()
    log.info("mean difference ours - seed (top-1, all classes): %s", ", ".join(f"{v} {d:+.1f} pp" for v, d in top1.items()))
    plot_comparison(cmp, snakemake.output.figure, title=f"{snakemake.params.spec} vs the seed study ({cmp['subset'].nunique()} subsets)")
