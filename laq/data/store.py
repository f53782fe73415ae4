"""The prepared-dataset format every later step reads.

A split is one safetensors file with two tensors:
  images  uint8 [N, H, W, 3]   (channels last, as PIL/numpy give them)
  labels  int64 [N]
Class names live in a JSON file beside it: {"dataset": str, "names": [str, ...]}.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file

from laq.io import LaqError, atomic_path, rebuild_hint


@dataclass(frozen=True)
class Split:
    images: np.ndarray  # uint8 [N, H, W, 3]
    labels: np.ndarray  # int64 [N]

    def __post_init__(self) -> None:
        if self.images.dtype != np.uint8 or self.images.ndim != 4 or self.images.shape[-1] != 3:
            raise ValueError(f"images must be uint8 [N,H,W,3], got {self.images.dtype} {self.images.shape}")
        if self.labels.shape != (self.images.shape[0],):
            raise ValueError("labels must be one per image")

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def subset(self, classes: list[int] | np.ndarray) -> "Split":
        mask = np.isin(self.labels, np.asarray(classes))
        return Split(self.images[mask], self.labels[mask])


def save_split(path: str | os.PathLike, split: Split) -> None:
    with atomic_path(path) as tmp:
        save_file(
            {"images": np.ascontiguousarray(split.images), "labels": split.labels.astype(np.int64)}, str(tmp)
        )


def load_split(path: str | os.PathLike) -> Split:
    try:
        t = load_file(str(path))
        return Split(t["images"], t["labels"])
    except FileNotFoundError:
        raise LaqError(f"dataset file {path} does not exist; {rebuild_hint(path)}.") from None
    except (SafetensorError, KeyError, ValueError, OSError) as e:
        raise LaqError(f"dataset file {path} is corrupted ({e}); {rebuild_hint(path)}.") from None
