"""Batched preprocessing on uint8 NHWC tensors: the model's input size and normalisation."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


PREPROCESSING: tuple[str, ...] = ("resize", "resize_crop")


def crop_window(size: int, crop: int) -> int:
    """Top (= left) offset of a centred crop, rounded as torchvision's CenterCrop does."""
    return int(round((size - crop) / 2.0))


@dataclass(frozen=True)
class Preprocess:
    """uint8 images -> the model's normalised input.

    mode "resize": resize to S x S (our default: the whole 32 px image reaches the model);
    "resize_crop": resize to round(S * 256 / 224), then centre-crop S (ImageNet's evaluation
    transform, the seed study's: Resize(256) + CenterCrop(224) at S = 224, which cuts 1/8 of each side).
    """

    input_size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    mode: str = "resize"

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 [B,H,W,3] -> float32 [B,3,S,S], resized (bilinear, antialiased) if S differs.

        Runs on the images' device: move the uint8 batch there first (4x smaller than floats, and a GPU
        resizes 32 -> 256 px far faster than one CPU thread)."""
        x = images.permute(0, 3, 1, 2).float().div_(255.0)
        s = self.input_size
        if self.mode == "resize_crop":
            r = round(s * 256 / 224)
            if x.shape[-1] != r or x.shape[-2] != r:
                x = F.interpolate(x, size=(r, r), mode="bilinear", antialias=True, align_corners=False)
            o = crop_window(r, s)
            x = x[..., o : o + s, o : o + s]
        elif self.mode != "resize":
            raise ValueError(f"unknown preprocessing {self.mode!r}; use one of {', '.join(PREPROCESSING)}")
        elif x.shape[-1] != s or x.shape[-2] != s:
            x = F.interpolate(x, size=(s, s), mode="bilinear", antialias=True, align_corners=False)
        mean = torch.tensor(self.mean, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        std = torch.tensor(self.std, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        return (x - mean) / std


def random_crop(images: torch.Tensor, pad: int, generator: torch.Generator) -> torch.Tensor:
    """Zero-pad by `pad` and crop back at a random offset per image (no flips: glyphs are not mirror-symmetric)."""
    dy, dx = crop_offsets(images.shape[0], pad, generator)
    return crop_at(images, pad, dy, dx)


def crop_offsets(b: int, pad: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """The offsets `random_crop` draws for a batch of b images (CPU generator: the same draws on any device)."""
    dy = torch.randint(0, 2 * pad + 1, (b,), generator=generator)
    dx = torch.randint(0, 2 * pad + 1, (b,), generator=generator)
    return dy, dx


def crop_at(images: torch.Tensor, pad: int, dy: torch.Tensor, dx: torch.Tensor) -> torch.Tensor:
    """Zero-pad NHWC `images` by `pad` and crop image i back at (dy[i], dx[i]), on the images' device."""
    b, h, w, _ = images.shape
    dev = images.device
    padded = F.pad(images, (0, 0, pad, pad, pad, pad))
    rows = (dy.to(dev)[:, None] + torch.arange(h, device=dev)[None, :])[:, :, None]
    cols = (dx.to(dev)[:, None] + torch.arange(w, device=dev)[None, :])[:, None, :]
    return padded[torch.arange(b, device=dev)[:, None, None], rows, cols]


def channel_stats(images) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of uint8 NHWC images, in [0,1] units."""
    x = torch.as_tensor(images[: 20000]).float().div_(255.0).reshape(-1, 3)
    return tuple(round(v, 4) for v in x.mean(0).tolist()), tuple(round(v, 4) for v in x.std(0).tolist())
