"""Model checkpoints: a safetensors state dict plus a JSON sidecar describing how to rebuild the model.

Sidecar keys: arch (see `laq.models.arch`), num_classes, input_size, mean, std, classes (names),
preprocess (resize | resize_crop), source, and anything the writer adds (config hash, provenance). Nothing is unpickled, and a sidecar
is data: every field is checked (`laq.models.arch.check_meta`) before any model is built.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from laq.io import LaqError, atomic_path, canonical_safetensors, read_json, rebuild_hint, write_json
from laq.models.arch import build_arch, check_meta

USER_FILE_HINT = "give a checkpoint written by laq (a .safetensors file with its .json sidecar)"


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


def _advice(path: str | os.PathLike, user_file: bool) -> str:
    return USER_FILE_HINT if user_file else rebuild_hint(path)


def read_meta(path: str | os.PathLike, *, trusted_hub: str | None = None, user_file: bool = False) -> dict[str, Any]:
    """The checked sidecar of checkpoint `path` (see `laq.models.arch.check_meta`)."""
    side = sidecar_path(path)
    try:
        meta = read_json(side)
    except LaqError as e:
        if not user_file:
            raise
        raise LaqError(f"{str(e).split(';')[0]}; {USER_FILE_HINT}.") from None
    return check_meta(meta, f"checkpoint sidecar {side}", trusted_hub=trusted_hub, advice=_advice(path, user_file))


def load_state(path: str | os.PathLike, *, user_file: bool = False) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(path))
    except FileNotFoundError:
        raise LaqError(f"checkpoint {path} does not exist; {_advice(path, user_file)}.") from None
    except (SafetensorError, OSError, ValueError) as e:
        raise LaqError(f"checkpoint {path} is corrupted or not a safetensors file ({e}); {_advice(path, user_file)}.") from None


def load_checkpoint(
    path: str | os.PathLike, *, trusted_hub: str | None = None, user_file: bool = False
) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the model from the checked sidecar and load the weights (strict).

    trusted_hub: the configured model.source if it is a torchhub: source (the only torchhub:
    architecture built). user_file: `path` was given by the user (model.source: file:), so errors
    say to give a laq checkpoint rather than how to rebuild a workflow output.
    """
    meta = read_meta(path, trusted_hub=trusted_hub, user_file=user_file)
    state = load_state(path, user_file=user_file)  # read before building: a broken file costs no model
    model = build_arch(meta["arch"], meta["num_classes"], trusted_hub=trusted_hub, where=f"checkpoint sidecar {sidecar_path(path)}: arch")
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise LaqError(
            f"checkpoint {path} does not match its architecture {meta['arch']} ({str(e).splitlines()[0]}); {_advice(path, user_file)}."
        ) from None
    return model.eval(), meta
