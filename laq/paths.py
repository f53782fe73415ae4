"""Every output path of the workflow, derived in one place from the config.

Patterns keep Snakemake wildcards ({seed}, {subset}, {spec}, {mode}) unformatted; rules fill them. The
prepared data is shared by every study seed; everything a study seed changes (base model, distances, subsets,
fine-tuned and quantized models, tables, figures, findings) lives under `<root>/seed-<seed>/`, and what is
pooled over the seeds under `<root>/pooled/`.
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

    @property
    def study(self) -> str:
        """One study seed's folder."""
        return f"{self.root}/seed-{{seed}}"

    # base model
    @property
    def mdir(self) -> str:
        return f"{self.study}/models/{self.model}"

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
        return f"{self.study}/similarity/embeddings.npz"

    @property
    def distance(self) -> str:
        return f"{self.study}/similarity/distance.npy"

    @property
    def points2d(self) -> str:
        return f"{self.study}/similarity/points2d.npz"

    def similarity_figure(self, kind: str) -> str:
        return f"{self.study}/figures/similarity_{kind}.png"

    # subsets
    @property
    def subset(self) -> str:
        return f"{self.study}/subsets/{{subset}}.json"

    @property
    def subset_overlap(self) -> str:
        """Realized overlap (Jaccard) of every pair of the run's subsets."""
        return f"{self.study}/subsets/overlap.json"

    # fine-tuning
    @property
    def finetuned(self) -> str:
        return f"{self.mdir}/finetuned/{{subset}}.safetensors"

    @property
    def finetuned_eval(self) -> str:
        """Metrics of every subset's fine-tuned model (one job: each evaluation takes a second, a job ~4 s)."""
        return f"{self.study}/eval/{self.model}/finetuned.json"

    # quantization: one job per (spec, subset) makes every quantized variant from every calibration draw
    def quantized(self, variant: str, draw: int) -> str:
        return f"{self.mdir}/quantized/{{spec}}/{{subset}}/{variant}-d{draw}.safetensors"

    # evaluation, tables, figures
    @property
    def quant_eval(self) -> str:
        """Metrics of every subset's quantized models (every variant and draw) for one spec."""
        return f"{self.study}/eval/{self.model}/spec-{{spec}}.json"

    @property
    def quant_correct(self) -> str:
        """Per-test-image correctness of every quantized model of one spec (for paired tests)."""
        return f"{self.study}/eval/{self.model}/spec-{{spec}}_correct.safetensors"

    @property
    def table(self) -> str:
        return f"{self.study}/tables/{self.model}_{{spec}}.csv"

    @property
    def statistics(self) -> str:
        """Accuracy vs distance (Spearman, log fits) per variant, one file per mode."""
        return f"{self.study}/tables/{self.model}_{{spec}}_{{mode}}_statistics.csv"

    @property
    def gains(self) -> str:
        """The paired gains of one spec (both gains, both modes): mean, CIs, tests, draw SD."""
        return f"{self.study}/tables/{self.model}_{{spec}}_gains.csv"

    @property
    def mcnemar(self) -> str:
        """Per (gain, mode, subset, draw): McNemar's test on the two models' paired test predictions."""
        return f"{self.study}/tables/{self.model}_{{spec}}_mcnemar.csv"

    @property
    def decomposition(self) -> str:
        """Per gain: the all-classes gain split into within-subset and out-of-subset parts (laq.stats)."""
        return f"{self.study}/tables/{self.model}_{{spec}}_decomposition.csv"

    @property
    def dose_response(self) -> str:
        """Every spec's gains per dose (bits, calibration images, subset size), for the dose-response figures."""
        return f"{self.study}/tables/{self.model}_dose_response.csv"

    @property
    def dose_figure(self) -> str:
        return f"{self.study}/figures/{self.model}_dose_response.png"

    @property
    def findings(self) -> str:
        return f"{self.study}/findings.md"

    @property
    def findings_rst(self) -> str:
        """The same findings as reStructuredText, for the front page of `snakemake --report`."""
        return f"{self.study}/report/findings.rst"

    @property
    def accuracy_figure(self) -> str:
        return f"{self.study}/figures/{self.model}_{{spec}}_{{mode}}_median.png"

    def result_figure(self, kind: str) -> str:
        return f"{self.study}/figures/{self.model}_{{spec}}_{kind}.png"

    @property
    def bits_figure(self) -> str:
        return f"{self.study}/figures/{self.model}_bits_vs_accuracy.png"

    @property
    def seed_comparison(self) -> str:
        """Per subset, variant and metric: this run's accuracy, the reference seed log's, the difference."""
        return f"{self.study}/tables/{self.model}_seed_comparison.csv"

    @property
    def seed_figure(self) -> str:
        return f"{self.study}/figures/{self.model}_seed_comparison.png"

    # pooled over the study seeds
    @property
    def pooled_gains(self) -> str:
        """One spec's gains per study seed and pooled over them (laq.stats.pooled_gains)."""
        return f"{self.root}/pooled/{self.model}_{{spec}}_gains.csv"

    @property
    def pooled_findings(self) -> str:
        return f"{self.root}/pooled/findings.md"

    @property
    def pooled_findings_rst(self) -> str:
        return f"{self.root}/pooled/findings.rst"

    @property
    def seed_table(self) -> str:
        """Every gain per seed and pooled, as a Markdown table (the README's multi-seed table)."""
        return f"{self.root}/pooled/seeds.md"

    # bookkeeping
    def log(self, rule: str, *wildcards: str) -> str:
        name = "_".join(f"{{{w}}}" for w in wildcards) or rule
        return f"{self.root}/logs/{rule}/{name}.log"

    def benchmark(self, rule: str, *wildcards: str) -> str:
        name = "_".join(f"{{{w}}}" for w in wildcards) or rule
        return f"{self.root}/benchmarks/{rule}/{name}.tsv"


def sidecar(path: str) -> str:
    """The JSON sidecar of a checkpoint (architecture, classes, provenance)."""
    return path.rsplit(".", 1)[0] + ".json"


def svg(path: str) -> str:
    """The SVG written beside every PNG figure."""
    return path.rsplit(".", 1)[0] + ".svg"


def layer_table(path: str) -> str:
    """Per-layer quantization errors, written beside a quantized checkpoint."""
    return path.rsplit(".", 1)[0] + "_layers.csv"
