"""The one rule of randomness: every random choice draws from a stream keyed on (seed, *keys).

Keys name what is being drawn and for whom, e.g. ("calibration", subset, condition, draw), so a
draw never depends on the order jobs run in, on Python's hash randomisation or on other draws.
numpy and torch are imported lazily: light jobs use this module without importing torch.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

Key = str | int


def derive_seed(seed: int, *keys: Key) -> int:
    """A stable 63-bit seed for (seed, keys): sha256 of their text, so every process and machine agrees."""
    for k in (seed, *keys):
        # bool is an int and 1.0 prints differently from 1: refuse both rather than alias them
        if isinstance(k, bool) or not isinstance(k, (str, int)):
            raise TypeError(f"seed keys must be str or int, got {k!r} ({type(k).__name__})")
    text = "\x1f".join(str(k) for k in (int(seed), *keys))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") >> 1


def rng(seed: int, *keys: Key) -> np.random.Generator:
    """numpy Generator of the stream (seed, keys)."""
    return np.random.default_rng(derive_seed(seed, *keys))


def torch_generator(seed: int, *keys: Key) -> "torch.Generator":
    """CPU torch.Generator of the stream (seed, keys)."""
    import torch

    return torch.Generator().manual_seed(derive_seed(seed, *keys))
