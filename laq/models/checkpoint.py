"""Model checkpoints: a safetensors state dict plus a JSON sidecar describing how to rebuild the model.

Sidecar keys: arch (see `laq.models.sources.build_arch`), num_classes, input_size, mean, std,
classes (names), source, and anything the writer adds (config hash, provenance). Nothing is unpickled.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from laq.io import LaqError, atomic_path, canonical_safetensors, read_json, write_json


def sidecar_path(path: str | os.PathLike) -> Path:
    return Path(path).with_suffix(".json")


def save_checkpoint(path: str | os.PathLike, model: nn.Module, meta: dict[str, Any]) -> None:
    """Write `path` (.safetensors) and its sidecar; the sidecar is written last so it marks completeness."""
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    # Tied weights share storage; safetensors refuses that, so clone.
    state = {k: v.clone() for k, v in state.items()}
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata={"format": "pt", "arch": str(meta.get("arch", ""))})
        canonical_safetensors(tmp)
    write_json(sidecar_path(path), meta)


def read_meta(path: str | os.PathLike) -> dict[str, Any]:
    return read_json(sidecar_path(path))


def load_state(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(path))
    except FileNotFoundError:
        raise LaqError(f"checkpoint {path} does not exist; run the step that makes it first.") from None
    except (SafetensorError, OSError, ValueError) as e:
        raise LaqError(f"checkpoint {path} is corrupted or not a safetensors file ({e}); delete it and re-run.") from None


def load_checkpoint(path: str | os.PathLike) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the model from the sidecar and load the weights (strict)."""
    from laq.models.sources import build_arch

    meta = read_meta(path)
    model = build_arch(meta["arch"], meta["num_classes"])
    state = load_state(path)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise LaqError(f"checkpoint {path} does not match its architecture {meta['arch']} ({str(e).splitlines()[0]}).") from None
    return model.eval(), meta
