from laq.data.datasets import prepare_dataset
from laq.data.store import save_split
from laq.io import write_json
from laq.workflow import job

with job(snakemake) as log:
    train, test, names = prepare_dataset(snakemake.params.dataset, snakemake.params.seed)
    log.info("%s: %d train / %d test images, %d classes, %s", snakemake.params.dataset["name"], len(train), len(test), len(names), train.images.shape[1:])
    save_split(snakemake.output.train, train)
    save_split(snakemake.output.test, test)
    write_json(snakemake.output.classes, {"dataset": snakemake.params.dataset["name"], "names": names})
