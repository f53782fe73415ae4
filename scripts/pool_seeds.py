import pandas as pd

from laq.findings import pooled_findings, seed_table, to_markdown, to_rst
from laq.io import atomic_path, read_json
from laq.stats import pooled_gains
from laq.tables import read_table
from laq.workflow import job

with job(snakemake) as log:
    inp, out, p = snakemake.input, snakemake.output, snakemake.params
    every = pd.concat([read_table(t) for t in inp.tables], ignore_index=True)  # each row says its spec and seed
    tables = {spec: {int(s): t for s, t in every[every["spec"] == spec].groupby("seed")} for spec in p.specs}
    pooled = {spec: pooled_gains(tables[spec], seed=p.seed) for spec in p.specs}
    for spec, path in zip(p.specs, out.gains):
        with atomic_path(path) as tmp:
            pooled[spec].to_csv(tmp, index=False)
    base = {s: read_json(m)["top1"] for s, m in zip(p.seeds, inp.base_metrics)}  # expand() keeps SEEDS' order
    sections = pooled_findings(pooled, every, base, model=p.model, dataset=p.dataset)
    title = f"Findings pooled over {len(p.seeds)} seeds: {p.model} on {p.dataset}"
    for path, text in ((out.markdown, to_markdown(title, sections)), (out.rst, to_rst(title, sections)),
                       (out.seed_table, seed_table(pooled) + "\n")):
        with atomic_path(path) as tmp:
            tmp.write_text(text)
    for s in sections:
        for b in s.bullets:
            log.info("%s", b)
