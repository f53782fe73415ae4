from laq.io import read_json, sha256_file
from laq.stages import load_logits, table_row, write_table
from laq.workflow import job

with job(snakemake) as log:
    inp = snakemake.input
    base, agnostic = load_logits(inp.base_logits), load_logits(inp.agnostic_logits)
    hashes = {"base": sha256_file(inp.base), "agnostic": sha256_file(inp.agnostic)}
    rows = [
        table_row(read_json(s), base, agnostic, read_json(f), read_json(q), hashes)
        for s, f, q in zip(inp.subsets, inp.finetuned, inp.quantized)
    ]
    df = write_table(snakemake.output[0], rows, snakemake.params.extra)
    log.info("%d subsets; mean top-1 (all): %s", len(df), df.filter(like="_top1_all").mean().round(2).to_dict())
