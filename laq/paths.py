"""Every output path of the workflow, derived in one place from the config.

Patterns keep Snakemake wildcards ({subset}, {spec}, {mode}) unformatted; rules fill them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Paths:
    root: str  # results/<dataset>
    model: str

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> "Paths":
        return cls(f"{cfg['results'].rstrip('/')}/{cfg['dataset']['name']}", cfg["model"]["name"])

    # data
    @property
    def train(self) -> str:
        return f"{self.root}/data/train.safetensors"

    @property
    def test(self) -> str:
        return f"{self.root}/data/test.safetensors"

    @property
    def classes(self) -> str:
        return f"{self.root}/data/classes.json"

    # base model
    @property
    def mdir(self) -> str:
        return f"{self.root}/models/{self.model}"

    @property
    def base(self) -> str:
        return f"{self.mdir}/base.safetensors"

    @property
    def base_metrics(self) -> str:
        return f"{self.mdir}/base_metrics.json"

    @property
    def base_logits(self) -> str:
        return f"{self.mdir}/base_test_logits.safetensors"

    # similarity
    @property
    def embeddings(self) -> str:
        return f"{self.root}/similarity/embeddings.npz"

    @property
    def distance(self) -> str:
        return f"{self.root}/similarity/distance.npy"

    @property
    def points2d(self) -> str:
        return f"{self.root}/similarity/points2d.npz"

    def similarity_figure(self, kind: str) -> str:
        return f"{self.root}/figures/similarity_{kind}.png"

    # subsets
    @property
    def subset(self) -> str:
        return f"{self.root}/subsets/{{subset}}.json"

    # fine-tuning
    @property
    def finetuned(self) -> str:
        return f"{self.mdir}/finetuned/{{subset}}.safetensors"

    @property
    def finetuned_eval(self) -> str:
        """Metrics of every subset's fine-tuned model (one job: each evaluation takes a second, a job ~4 s)."""
        return f"{self.root}/eval/{self.model}/finetuned.json"

    # quantization
    @property
    def quant_aware(self) -> str:
        return f"{self.mdir}/quantized/{{spec}}/aware/{{subset}}.safetensors"

    @property
    def quant_finetuned(self) -> str:
        return f"{self.mdir}/quantized/{{spec}}/finetuned/{{subset}}.safetensors"

    @property
    def quant_agnostic(self) -> str:
        return f"{self.mdir}/quantized/{{spec}}/agnostic.safetensors"

    @property
    def agnostic_logits(self) -> str:
        return f"{self.mdir}/quantized/{{spec}}/agnostic_test_logits.safetensors"

    # evaluation, tables, figures
    @property
    def quant_eval(self) -> str:
        """Metrics of every subset's quantized models for one spec."""
        return f"{self.root}/eval/{self.model}/spec-{{spec}}.json"

    @property
    def table(self) -> str:
        return f"{self.root}/tables/{self.model}_{{spec}}.csv"

    @property
    def statistics(self) -> str:
        return f"{self.root}/tables/{self.model}_{{spec}}_{{mode}}_statistics.csv"

    @property
    def accuracy_figure(self) -> str:
        return f"{self.root}/figures/{self.model}_{{spec}}_{{mode}}_median.png"

    def result_figure(self, kind: str) -> str:
        return f"{self.root}/figures/{self.model}_{{spec}}_{kind}.png"

    @property
    def bits_figure(self) -> str:
        return f"{self.root}/figures/{self.model}_bits_vs_accuracy.png"

    # bookkeeping
    def log(self, rule: str, *wildcards: str) -> str:
        name = "_".join(f"{{{w}}}" for w in wildcards) or rule
        return f"{self.root}/logs/{rule}/{name}.log"

    def benchmark(self, rule: str, *wildcards: str) -> str:
        name = "_".join(f"{{{w}}}" for w in wildcards) or rule
        return f"{self.root}/benchmarks/{rule}/{name}.tsv"
