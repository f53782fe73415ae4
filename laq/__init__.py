"""laq: label-aware post-training quantization, as a library behind a Snakemake workflow."""

__version__ = "0.1.0"
