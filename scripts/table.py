from laq.io import read_json, sha256_file
from laq.tables import load_logits, table_row, write_table
from laq.workflow import job

with job(snakemake) as log:
    inp = snakemake.input
    base, agnostic = load_logits(inp.base_logits), load_logits(inp.agnostic_logits)
    hashes = {"base": sha256_file(inp.base), "agnostic": sha256_file(inp.agnostic)}
    finetuned, quantized = read_json(inp.finetuned)["subsets"], read_json(inp.quantized)["subsets"]
    rows = []
    for path in inp.subsets:
        manifest = read_json(path)
        rows.append(table_row(manifest, base, agnostic, finetuned[manifest["id"]], quantized[manifest["id"]], hashes))
    df = write_table(snakemake.output[0], rows, snakemake.params.extra)
    log.info("%d subsets; mean top-1 (all): %s", len(df), df.filter(like="_top1_all").mean().round(2).to_dict())
