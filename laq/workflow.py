"""Glue shared by the workflow's scripts: logging to the rule's log, threads, device, seeds."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from typing import TYPE_CHECKING, Any, Iterator

from laq.io import LaqError

if TYPE_CHECKING:
    from laq.data.transforms import Preprocess


@contextlib.contextmanager
def job(snakemake: Any) -> Iterator[logging.Logger]:
    """Route logging and progress bars (stderr) to the rule's log; one-line errors for LaqError."""
    log_path = snakemake.log[0] if len(snakemake.log) else None
    stream = open(log_path, "w", buffering=1) if log_path else sys.stderr
    old_stderr = sys.stderr
    sys.stderr = stream
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s: %(message)s", stream=stream, force=True
    )
    logger = logging.getLogger(f"laq.{snakemake.rule}")
    threads = max(1, int(snakemake.threads))
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
        from laq.device import set_tf32

        set_tf32(False)  # explicit, never cuDNN's default (TF32 convs); evaluation and training set `precision`
    else:  # light jobs (plots, tables, manifests) never pay for importing torch
        os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(threads)
    try:
        yield logger
    except LaqError as e:
        logger.error("%s", e)
        sys.stderr = old_stderr
        print(f"laq: {e}", file=sys.stderr)
        raise SystemExit(1) from None
    finally:
        sys.stderr = old_stderr
        if stream is not sys.stderr and stream is not old_stderr:
            stream.close()


def trusted_hub(snakemake: Any) -> str | None:
    """The configured model.source when it is a torchhub: source: the one torch.hub repository a job
    may run (checkpoint sidecars are data and cannot name another; see `laq.models.arch`)."""
    source = str(snakemake.config.get("model", {}).get("source", ""))
    return source if source.startswith("torchhub:") else None


def resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise LaqError("device is cuda but no GPU is visible to this job; set device: cpu or auto.")
    return device


def preprocess_for(meta: dict[str, Any]) -> Preprocess:
    from laq.data.transforms import Preprocess

    return Preprocess(int(meta["input_size"]), tuple(meta["mean"]), tuple(meta["std"]), meta.get("preprocess", "resize"))
