from laq.io import LaqError
from laq.plots import results
from laq.plots.mechanism import plot_dose_response
from laq.plots.style import apply_style
from laq.stats import dose_response, write_statistics
from laq.tables import read_table
from laq.workflow import job

with job(snakemake) as log:
    apply_style(snakemake.params.rc)
    paths, specs, out = list(snakemake.input), list(snakemake.params.specs), snakemake.output
    if len(paths) != len(specs):
        raise LaqError(f"dose_response got {len(paths)} tables for {len(specs)} specs; the rule's input and params.specs must match.")
    tables = {spec: read_table(path) for spec, path in zip(specs, paths)}
    dose = dose_response(tables, seed=snakemake.params.seed)
    write_statistics(dose, out.table)
    model, dataset = results.table_context(tables[specs[0]], paths[0], specs[0])
    for warning in plot_dose_response(dose, out.figure, title=f"{model} on {dataset}"):
        log.warning("%s", warning)
    log.info("wrote %s and %s (%d rows)", out.table, out.figure, len(dose))
