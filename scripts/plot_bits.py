from laq.io import LaqError
from laq.plots import results as plots
from laq.plots.style import apply_style
from laq.tables import per_subset, read_table
from laq.workflow import job

with job(snakemake) as log:
    apply_style(snakemake.params.rc)
    paths, specs = list(snakemake.input), list(snakemake.params.specs)
    if len(paths) != len(specs):
        raise LaqError(f"plot_bits got {len(paths)} tables for {len(specs)} specs; the rule's input and params.specs must match.")
    tables = {spec: per_subset(read_table(path)) for spec, path in zip(specs, paths)}
    model, dataset = plots.table_context(tables[specs[0]], paths[0], specs[0])
    title = f"{model} on {dataset} · top-1 across quantization specs"
    for warning in plots.plot_bits_vs_accuracy(tables, snakemake.output[0], title=title):
        log.warning("%s", warning)
    log.info("wrote %s (%d specs)", snakemake.output[0], len(specs))
