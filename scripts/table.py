from laq.design import QUANTIZED_VARIANTS
from laq.io import read_json, sha256_file
from laq.tables import load_logits, read_evaluation, table_rows, write_table
from laq.workflow import job

with job(snakemake) as log:
    inp = snakemake.input
    base, base_sha = load_logits(inp.base_logits), sha256_file(inp.base)
    manifests = [read_json(path) for path in inp.subsets]
    ids = [m["id"] for m in manifests]
    finetuned = read_evaluation(inp.finetuned, ids, ("finetuned",))
    quantized = read_evaluation(inp.quantized, ids, QUANTIZED_VARIANTS)
    rows = []
    for manifest in manifests:
        rows += table_rows(manifest, base, finetuned[manifest["id"]], quantized[manifest["id"]], base_sha)
    df = write_table(snakemake.output[0], rows, snakemake.params.extra)
    log.info("%d subsets x %d draws; mean top-1 (all): %s", df["subset"].nunique(), df["draw"].nunique(),
             df.filter(like="_top1_all").mean().round(2).to_dict())
