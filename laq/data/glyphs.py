"""glyphs100: an offline 100-class dataset of small RGB images of rendered characters.

Classes are digits, Latin letters, Greek letters and symbols with natural look-alikes
(o/O/0, l/I/1/|, s/S/5/$, x/X/chi, p/P/rho, B/beta/8, ...). Each glyph is rendered once per
font from the TrueType fonts matplotlib ships, as a high-resolution alpha mask laid out on a
common baseline (so x-height, ascenders and descenders still tell o from O and p from P).
Each sample then gets a random font, scale, aspect, rotation and shift (one batched affine
warp, 2x supersampled), random foreground/background colours with a minimum luminance
contrast, and Gaussian pixel noise. Everything is a function of `seed`; each (split, class)
has its own random stream, so a class's images do not depend on `num_classes`.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from laq import seeding
from laq.data.store import Split

if TYPE_CHECKING:
    import torch

# (character, class name); the order is the class order. The first 20 classes already hold
# look-alike groups (0/O/o, l/1/I, S/5/$, x/chi/X, p/rho, B/8/beta) next to unrelated ones.
GLYPHS: tuple[tuple[str, str], ...] = (
    ("0", "digit_0"), ("O", "upper_O"), ("l", "lower_l"), ("1", "digit_1"), ("S", "upper_S"),
    ("5", "digit_5"), ("x", "lower_x"), ("\u03c7", "greek_chi"), ("A", "upper_A"), ("#", "hash"),
    ("o", "lower_o"), ("I", "upper_I"), ("$", "dollar"), ("X", "upper_X"), ("p", "lower_p"),
    ("\u03c1", "greek_rho"), ("B", "upper_B"), ("8", "digit_8"), ("\u03b2", "greek_beta"), ("?", "question"),
    ("s", "lower_s"), ("|", "bar"), ("c", "lower_c"), ("C", "upper_C"), ("v", "lower_v"),
    ("\u03bd", "greek_nu"), ("u", "lower_u"), ("\u03c5", "greek_upsilon"), ("k", "lower_k"), ("\u03ba", "greek_kappa"),
    ("a", "lower_a"), ("\u03b1", "greek_alpha"), ("n", "lower_n"), ("\u03b7", "greek_eta"), ("e", "lower_e"),
    ("\u03b5", "greek_epsilon"), ("w", "lower_w"), ("\u03c9", "greek_omega"), ("t", "lower_t"), ("\u03c4", "greek_tau"),
    ("y", "lower_y"), ("\u03b3", "greek_gamma"), ("z", "lower_z"), ("Z", "upper_Z"), ("2", "digit_2"),
    ("b", "lower_b"), ("6", "digit_6"), ("\u03b4", "greek_delta"), ("g", "lower_g"), ("9", "digit_9"),
    ("q", "lower_q"), ("P", "upper_P"), ("V", "upper_V"), ("U", "upper_U"), ("K", "upper_K"),
    ("W", "upper_W"), ("3", "digit_3"), ("4", "digit_4"), ("7", "digit_7"), ("D", "upper_D"),
    ("E", "upper_E"), ("F", "upper_F"), ("G", "upper_G"), ("H", "upper_H"), ("J", "upper_J"),
    ("L", "upper_L"), ("M", "upper_M"), ("N", "upper_N"), ("Q", "upper_Q"), ("R", "upper_R"),
    ("T", "upper_T"), ("Y", "upper_Y"), ("d", "lower_d"), ("f", "lower_f"), ("h", "lower_h"),
    ("i", "lower_i"), ("j", "lower_j"), ("m", "lower_m"), ("r", "lower_r"), ("\u03b8", "greek_theta"),
    ("\u03bb", "greek_lambda"), ("\u03bc", "greek_mu"), ("\u03c0", "greek_pi"), ("\u03c3", "greek_sigma"), ("\u03c6", "greek_phi"),
    ("\u03c8", "greek_psi"), ("\u03b6", "greek_zeta"), ("\u03be", "greek_xi"), ("\u0393", "greek_cap_gamma"), ("\u0394", "greek_cap_delta"),
    ("\u0398", "greek_cap_theta"), ("\u039b", "greek_cap_lambda"), ("\u03a0", "greek_cap_pi"), ("\u03a3", "greek_cap_sigma"), ("\u03a6", "greek_cap_phi"),
    ("\u03a8", "greek_cap_psi"), ("\u03a9", "greek_cap_omega"), ("&", "ampersand"), ("%", "percent"), ("@", "at"),
)
CHARS: tuple[str, ...] = tuple(c for c, _ in GLYPHS)
CLASS_NAMES: tuple[str, ...] = tuple(n for _, n in GLYPHS)
MAX_CLASSES = len(GLYPHS)

# Real text faces only: matplotlib's LastResort font maps every code point to a tofu box, the
# cm*/STIXSiz*/STIXNonUni fonts map ASCII codes to other symbols, the *Display fonts are stubs.
FONT_FILES: tuple[str, ...] = (
    "DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf", "DejaVuSans-BoldOblique.ttf",
    "DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf", "DejaVuSerif-Italic.ttf", "DejaVuSerif-BoldItalic.ttf",
    "DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf", "DejaVuSansMono-Oblique.ttf", "DejaVuSansMono-BoldOblique.ttf",
    "STIXGeneral.ttf", "STIXGeneralBol.ttf", "STIXGeneralItalic.ttf", "STIXGeneralBolIta.ttf",
)

# Layout on the unit frame: em size, baseline below the centre (in em), hi-res supersampling.
_EM = 0.78
_BASELINE = 0.27
_RENDER_SCALE = 4  # masks are drawn at 4x the image size and stored at 2x
_SUPER = 2  # warps run at 2x the image size, then are average-pooled
# Per-sample variation.
_SCALE = (0.82, 1.12)
_ASPECT = 0.10  # log-aspect range: x stretched by e^u, y by e^-u, u ~ U(-a, a)
_ROTATE_DEG = 15.0
_SHIFT_PX = 2.0  # max shift per axis at image_size 32 (the same fraction at other sizes)
_MIN_CONTRAST = 0.35  # luminance difference of foreground and background, in [0, 1]
_NOISE = (0.01, 0.05)  # std of Gaussian pixel noise, in [0, 1] units
_LUMA = np.array([0.299, 0.587, 0.114])
_BATCH = 4096  # images per batched warp


def font_dir() -> str:
    import matplotlib

    return os.path.join(matplotlib.get_data_path(), "fonts", "ttf")


@functools.lru_cache(maxsize=None)
def _charmaps() -> dict[str, frozenset[int]]:
    from matplotlib.ft2font import FT2Font

    out = {}
    for name in FONT_FILES:
        path = os.path.join(font_dir(), name)
        if os.path.isfile(path):
            out[path] = frozenset(c for c, g in FT2Font(path).get_charmap().items() if g)
    return out


def fonts_for_char(ch: str) -> list[str]:
    """Paths of the font files whose character map has `ch` (in FONT_FILES order)."""
    return [p for p, cmap in _charmaps().items() if ord(ch) in cmap]


@dataclass(frozen=True)
class GlyphBank:
    masks: np.ndarray  # float32 [G, 2S, 2S] alpha in [0, 1], on the common layout
    fonts: tuple[str, ...]  # font path of each mask
    by_class: tuple[np.ndarray, ...]  # mask indices of each class


def _render(ch: str, path: str, image_size: int) -> np.ndarray | None:
    from PIL import Image, ImageDraw, ImageFont

    h = _RENDER_SCALE * image_size
    px = max(4, round(_EM * h))
    font = ImageFont.truetype(path, px)
    canvas = Image.new("L", (2 * h, h), 0)  # extra width so nothing is clipped before centring
    ImageDraw.Draw(canvas).text((h // 2, h / 2 + _BASELINE * px), ch, fill=255, font=font, anchor="ls")
    a = np.asarray(canvas, dtype=np.float32) / 255.0
    cols = np.flatnonzero(a.max(axis=0) > 0.1)
    if a.sum() < 0.002 * h * h or len(cols) == 0:
        return None  # mapped but blank
    left = int(round((cols[0] + cols[-1] + 1) / 2 - h / 2))  # centre the ink horizontally
    a = a[:, max(left, 0): max(left, 0) + h]
    a = np.pad(a, ((0, 0), (0, h - a.shape[1])))
    f = _RENDER_SCALE // _SUPER
    return a.reshape(h // f, f, h // f, f).mean(axis=(1, 3))


@functools.lru_cache(maxsize=4)
def glyph_bank(image_size: int = 32) -> GlyphBank:
    """Every (font, character) alpha mask, rendered once."""
    masks, fonts, by_class = [], [], []
    for ch, name in GLYPHS:
        idx = []
        for path in fonts_for_char(ch):
            m = _render(ch, path, image_size)
            if m is not None:
                idx.append(len(masks))
                masks.append(m)
                fonts.append(path)
        if not idx:
            raise RuntimeError(f"no usable font for glyph class {name!r} under {font_dir()}")
        by_class.append(np.asarray(idx, dtype=np.int64))
    stack = np.stack(masks).astype(np.float32)
    stack.flags.writeable = False  # shared through the cache
    return GlyphBank(stack, tuple(fonts), tuple(by_class))


@dataclass(frozen=True)
class Pose:
    """Per-sample geometry: mask index, scale, log-aspect, rotation (radians), shift (frame fraction)."""

    glyph: np.ndarray
    scale: np.ndarray
    log_aspect: np.ndarray
    angle: np.ndarray
    shift: np.ndarray  # [N, 2] (x, y), fraction of the half-frame (affine_grid units)


def draw_poses(rng: np.random.Generator, choices: np.ndarray, n: int) -> Pose:
    shift = _SHIFT_PX * 2.0 / 32.0  # as a fraction of the half-frame (affine_grid units)
    return Pose(
        glyph=choices[rng.integers(0, len(choices), n)],
        scale=rng.uniform(*_SCALE, n),
        log_aspect=rng.uniform(-_ASPECT, _ASPECT, n),
        angle=np.deg2rad(rng.uniform(-_ROTATE_DEG, _ROTATE_DEG, n)),
        shift=rng.uniform(-shift, shift, (n, 2)),
    )


@functools.lru_cache(maxsize=4)
def _base_grid(size: int) -> torch.Tensor:
    import torch

    c = (torch.arange(size, dtype=torch.float32) * 2 + 1) / size - 1  # pixel centres (align_corners=False)
    y, x = torch.meshgrid(c, c, indexing="ij")
    return torch.stack([x, y, torch.ones_like(x)], dim=-1).view(size * size, 3)


def warp(masks: np.ndarray, pose: Pose, image_size: int) -> torch.Tensor:
    """Alpha masks placed by `pose`: float32 torch tensor [N, image_size, image_size] in [0, 1]."""
    import torch
    import torch.nn.functional as F

    n = len(pose.glyph)
    sx = pose.scale * np.exp(pose.log_aspect)
    sy = pose.scale * np.exp(-pose.log_aspect)
    cos, sin = np.cos(pose.angle), np.sin(pose.angle)
    # Output point q = R S p + d; the sampling grid needs p = S^-1 R^T (q - d).
    inv = np.empty((n, 2, 3))
    inv[:, 0, 0], inv[:, 0, 1] = cos / sx, sin / sx
    inv[:, 1, 0], inv[:, 1, 1] = -sin / sy, cos / sy
    inv[:, :, 2] = -np.einsum("nij,nj->ni", inv[:, :, :2], pose.shift)
    size = _SUPER * image_size
    theta = torch.from_numpy(inv.astype(np.float32))
    # = F.affine_grid, as one GEMM: [S*S, 3] @ [3, N*2]
    grid = (_base_grid(size) @ theta.permute(2, 0, 1).reshape(3, n * 2)).view(size, size, n, 2).permute(2, 0, 1, 3)
    src = torch.from_numpy(masks[pose.glyph]).unsqueeze(1)
    out = F.grid_sample(src, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return F.avg_pool2d(out, _SUPER)[:, 0].clamp_(0.0, 1.0)


def _colours(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    fg, bg = rng.random((n, 3)), rng.random((n, 3))
    bad = np.abs((fg - bg) @ _LUMA) < _MIN_CONTRAST
    while bad.any():  # redraw the pairs without enough contrast
        k = int(bad.sum())
        fg[bad], bg[bad] = rng.random((k, 3)), rng.random((k, 3))
        bad = np.abs((fg - bg) @ _LUMA) < _MIN_CONTRAST
    return fg.astype(np.float32), bg.astype(np.float32)


@dataclass(frozen=True)
class _Draws:
    """Everything random about a run of consecutive classes (one rng stream per class)."""

    pose: Pose
    fg: np.ndarray  # [N, 3]
    bg: np.ndarray  # [N, 3]
    sigma: np.ndarray  # [N]
    noise_seeds: list[int]  # one per class


def _draws(bank: GlyphBank, classes: range, n: int, seed: int, part: int) -> _Draws:
    poses, fgs, bgs, sigmas, seeds = [], [], [], [], []
    for c in classes:
        rng = seeding.rng(seed, "glyphs", part, "draws", c)
        poses.append(draw_poses(rng, bank.by_class[c], n))
        fg, bg = _colours(rng, n)
        fgs.append(fg)
        bgs.append(bg)
        sigmas.append(rng.uniform(*_NOISE, n).astype(np.float32))
        seeds.append(int(rng.integers(0, 2**63 - 1)))
    pose = Pose(*(np.concatenate([getattr(p, f) for p in poses]) for f in ("glyph", "scale", "log_aspect", "angle", "shift")))
    return _Draws(pose, np.concatenate(fgs), np.concatenate(bgs), np.concatenate(sigmas), seeds)


def _render_classes(bank: GlyphBank, classes: range, n: int, seed: int, part: int, image_size: int) -> np.ndarray:
    import torch

    d = _draws(bank, classes, n, seed, part)
    m = len(d.sigma)
    alpha = warp(bank.masks, d.pose, image_size).unsqueeze(-1)
    img = torch.empty((m, image_size, image_size, 3))
    for i, s in enumerate(d.noise_seeds):
        img[i * n: (i + 1) * n].normal_(generator=torch.Generator().manual_seed(s))
    fg, bg = torch.from_numpy(d.fg).view(m, 1, 1, 3), torch.from_numpy(d.bg).view(m, 1, 1, 3)
    img.mul_(torch.from_numpy(d.sigma).view(m, 1, 1, 1))
    img += bg + alpha * (fg - bg)
    return img.clamp_(0.0, 1.0).mul_(255.0).round_().to(torch.uint8).numpy()


def _split(bank: GlyphBank, num_classes: int, per_class: int, seed: int, part: int, image_size: int) -> Split:
    images = np.empty((num_classes * per_class, image_size, image_size, 3), dtype=np.uint8)
    step = max(1, _BATCH // max(per_class, 1))  # whole classes per batch: few, large tensor ops
    for c0 in range(0, num_classes if per_class else 0, step):
        classes = range(c0, min(c0 + step, num_classes))
        images[c0 * per_class: classes.stop * per_class] = _render_classes(bank, classes, per_class, seed, part, image_size)
    labels = np.repeat(np.arange(num_classes, dtype=np.int64), per_class)
    order = seeding.rng(seed, "glyphs", part, "order").permutation(len(labels))
    return Split(images[order], labels[order])


def generate_glyphs(
    num_classes: int = 100,
    train_per_class: int = 500,
    test_per_class: int = 100,
    seed: int = 0,
    image_size: int = 32,
) -> tuple[Split, Split, list[str]]:
    """(train, test, class names) of glyphs100, or of its first `num_classes` classes."""
    if not 1 <= num_classes <= MAX_CLASSES:
        raise ValueError(f"glyphs100 has {MAX_CLASSES} classes; num_classes must be 1..{MAX_CLASSES}, got {num_classes}")
    if train_per_class < 0 or test_per_class < 0:
        raise ValueError("train_per_class and test_per_class must be >= 0")
    if image_size < 8:
        raise ValueError(f"image_size must be at least 8, got {image_size}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    bank = glyph_bank(image_size)
    train = _split(bank, num_classes, train_per_class, seed, 0, image_size)
    test = _split(bank, num_classes, test_per_class, seed, 1, image_size)
    return train, test, list(CLASS_NAMES[:num_classes])
