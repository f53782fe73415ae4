import pandas as pd

from laq.findings import SpecResults, findings, to_markdown, to_rst
from laq.io import atomic_path, read_json
from laq.tables import read_table
from laq.workflow import job

with job(snakemake) as log:
    inp, out, p = snakemake.input, snakemake.output, snakemake.params
    specs = [SpecResults(name, read_table(t), pd.read_csv(g), pd.read_csv(s), pd.read_csv(d))
             for name, t, g, s, d in zip(p.specs, inp.tables, inp.gains, inp.statistics, inp.decompositions)]
    sections = findings(specs, read_json(inp.base_metrics), model=p.model, dataset=p.dataset, calibration_images=p.calibration_images,
                        dose=pd.read_csv(inp.dose))
    title = f"Findings: {p.model} on {p.dataset}, study seed {p.seed}"
    for path, text in ((out.markdown, to_markdown(title, sections)), (out.rst, to_rst(title, sections))):
        with atomic_path(path) as tmp:
            tmp.write_text(text)
    for s in sections:
        for b in s.bullets:
            log.info("%s", b)
