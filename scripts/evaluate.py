from laq.data.store import load_split
from laq.design import nest_runs
from laq.io import provenance, read_json, write_json
from laq.stages import evaluate_checkpoints
from laq.tables import save_arrays
from laq.workflow import job, resolve_device, trusted_hub

with job(snakemake) as log:
    inp, p, out = snakemake.input, snakemake.params, snakemake.output
    manifests = [read_json(s) for s in inp.subsets]
    checkpoints = nest_runs(inp.models, [m["id"] for m in manifests], p.draws, p.conditions)
    results, correct = evaluate_checkpoints(checkpoints, manifests, load_split(inp.test), quantized=True,
                                            batch_size=p.batch_size, device=resolve_device(p.device), precision=p.precision, trusted_hub=trusted_hub(snakemake))
    save_arrays(out.correct, correct)
    write_json(out.metrics, {"spec": snakemake.wildcards.spec, "subsets": results,
                             "provenance": provenance({"batch_size": p.batch_size}, {"test": inp.test})})
