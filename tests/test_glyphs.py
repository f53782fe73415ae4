import dataclasses
import os
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from laq.data import glyphs as G
from laq.data.glyphs import CHARS, CLASS_NAMES, fonts_for_char, generate_glyphs, glyph_bank
from laq.data.store import Split

LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


@pytest.fixture(scope="module")
def small():
    return generate_glyphs(num_classes=100, train_per_class=4, test_per_class=2, seed=0)


def polarity_free(images: np.ndarray) -> np.ndarray:
    """Grey-level distance from the background (the median), 2x2-pooled, unit norm: colour-blind features."""
    lum = images.astype(np.float32) @ LUMA
    z = np.abs(lum - np.median(lum.reshape(len(lum), -1), axis=1)[:, None, None])
    n, h, w = z.shape
    z = z.reshape(n, h // 2, 2, w // 2, 2).mean(axis=(2, 4)).reshape(n, -1)
    return z / (np.linalg.norm(z, axis=1, keepdims=True) + 1e-6)


def class_means(split: Split, k: int) -> np.ndarray:
    f = polarity_free(split.images)
    return np.stack([f[split.labels == c].mean(0) for c in range(k)])


def test_shapes_dtypes_and_counts(small):
    train, test, names = small
    assert isinstance(train, Split) and isinstance(test, Split)
    assert train.images.shape == (400, 32, 32, 3) and test.images.shape == (200, 32, 32, 3)
    assert train.images.dtype == np.uint8 and train.labels.dtype == np.int64
    assert np.array_equal(np.bincount(train.labels, minlength=100), np.full(100, 4))
    assert np.array_equal(np.bincount(test.labels, minlength=100), np.full(100, 2))
    assert len(names) == 100


def test_names():
    assert len(CHARS) == len(set(CHARS)) == 100
    assert len(CLASS_NAMES) == 100
    assert len({n.lower() for n in CLASS_NAMES}) == 100  # also distinct on case-insensitive file systems
    assert all(re.fullmatch(r"[A-Za-z0-9_]+", n) for n in CLASS_NAMES)
    expect = {"O": "upper_O", "o": "lower_o", "0": "digit_0", "\u03c7": "greek_chi", "$": "dollar", "|": "bar"}
    assert {ch: CLASS_NAMES[CHARS.index(ch)] for ch in expect} == expect


def test_same_seed_same_data_other_seed_other_data(small):
    train, test, _ = small
    train2, test2, _ = generate_glyphs(num_classes=100, train_per_class=4, test_per_class=2, seed=0)
    assert np.array_equal(train.images, train2.images) and np.array_equal(train.labels, train2.labels)
    assert np.array_equal(test.images, test2.images) and np.array_equal(test.labels, test2.labels)
    train3, test3, _ = generate_glyphs(num_classes=100, train_per_class=4, test_per_class=2, seed=1)
    assert not np.array_equal(train.images, train3.images)
    assert not np.array_equal(test.images, test3.images)


def test_train_and_test_share_no_image(small):
    train, test, _ = small
    seen = {im.tobytes() for im in train.images}
    assert not any(im.tobytes() in seen for im in test.images)
    assert len(seen) == len(train)


def test_first_classes_and_stable_per_class_images(small):
    train, _, names = small
    tr10, te10, names10 = generate_glyphs(num_classes=10, train_per_class=4, test_per_class=2, seed=0)
    assert names10 == names[:10] == list(CLASS_NAMES[:10])
    assert set(np.unique(tr10.labels)) == set(range(10)) and len(te10) == 20
    for c in range(10):  # a class's images do not depend on how many classes are generated
        a = sorted(im.tobytes() for im in tr10.images[tr10.labels == c])
        b = sorted(im.tobytes() for im in train.images[train.labels == c])
        assert a == b


@pytest.mark.parametrize("n", [0, 101, 1000])
def test_bad_num_classes(n):
    with pytest.raises(ValueError, match="num_classes"):
        generate_glyphs(num_classes=n, train_per_class=1, test_per_class=1)


def test_other_image_size_and_empty_split():
    train, test, _ = generate_glyphs(num_classes=3, train_per_class=2, test_per_class=0, image_size=24)
    assert train.images.shape == (6, 24, 24, 3) and test.images.shape == (0, 24, 24, 3)


def test_no_tofu_every_glyph_in_its_fonts_cmap():
    bank = glyph_bank(32)
    used = set()
    for c, ch in enumerate(CHARS):
        have = fonts_for_char(ch)
        fonts = {bank.fonts[i] for i in bank.by_class[c]}
        assert fonts, CLASS_NAMES[c]
        assert fonts <= set(have), CLASS_NAMES[c]
        used |= fonts
    names = {os.path.basename(p) for p in used}
    assert names <= set(G.FONT_FILES)
    assert not any(n.startswith(("LastResort", "cm", "STIXSiz", "STIXNonUni")) for n in names)
    assert len(names) >= 8  # real font variety
    assert np.all(bank.masks.reshape(len(bank.masks), -1).max(1) > 0.5)  # every mask has ink


def test_glyphs_stay_inside_the_frame():
    bank = glyph_bank(32)
    every = np.repeat(np.arange(len(bank.masks)), 4)  # each (font, char) mask in 4 random poses
    pose = dataclasses.replace(G.draw_poses(np.random.default_rng(0), every, len(every)), glyph=every)
    alpha = G.warp(bank.masks, pose, 32).numpy()
    # ink mass that landed in the frame / mass of the whole scaled glyph (warp is at 2x, pooled to 1x)
    frac = alpha.sum((1, 2)) * 4 / (bank.masks[pose.glyph].sum((1, 2)) * pose.scale**2)
    assert frac.min() > 0.9 and np.median(frac) > 0.99


def test_warp_grid_matches_affine_grid():
    bank = glyph_bank(32)
    pose = G.draw_poses(np.random.default_rng(0), np.arange(len(bank.masks)), 40)
    n = 40
    sx, sy = pose.scale * np.exp(pose.log_aspect), pose.scale * np.exp(-pose.log_aspect)
    cos, sin = np.cos(pose.angle), np.sin(pose.angle)
    inv = np.zeros((n, 2, 3))
    inv[:, 0, :2] = np.stack([cos / sx, sin / sx], 1)
    inv[:, 1, :2] = np.stack([-sin / sy, cos / sy], 1)
    inv[:, :, 2] = -np.einsum("nij,nj->ni", inv[:, :, :2], pose.shift)
    grid = F.affine_grid(torch.tensor(inv, dtype=torch.float32), [n, 1, 64, 64], align_corners=False)
    ref = F.grid_sample(torch.from_numpy(bank.masks[pose.glyph]).unsqueeze(1), grid, align_corners=False)
    ref = F.avg_pool2d(ref, 2)[:, 0].clamp(0, 1)
    assert torch.allclose(G.warp(bank.masks, pose, 32), ref, atol=1e-4)


def test_images_are_not_blank(small):
    train, _, _ = small
    lum = (train.images.astype(np.float32) @ LUMA).reshape(len(train), -1)
    dev = np.abs(lum - np.median(lum, axis=1, keepdims=True))  # distance from the background level
    noise = G._NOISE[1] * 255 * np.linalg.norm(LUMA)  # largest noise std in `lum`
    # Noise alone puts the 99th percentile of `dev` near 2.6 sigma; glyph strokes reach >= 0.35 * 255.
    assert np.percentile(dev, 99, axis=1).min() > 2 * 2.6 * noise


def test_colours_have_contrast():
    fg, bg = G._colours(np.random.default_rng(0), 5000)
    assert np.all(np.abs((fg - bg) @ LUMA) >= G._MIN_CONTRAST - 1e-6)
    assert fg.std(0).min() > 0.2 and bg.std(0).min() > 0.2  # colours vary


def test_nearest_class_mean_beats_chance():
    k = 20
    train, test, _ = generate_glyphs(num_classes=k, train_per_class=40, test_per_class=20, seed=3)
    means = class_means(train, k)
    f = polarity_free(test.images)
    pred = np.argmin(((f[:, None, :] - means[None]) ** 2).sum(-1), axis=1)
    acc = float((pred == test.labels).mean())
    assert acc > 5 / k, acc  # ~0.55 measured; chance is 0.05


def test_look_alikes_are_closer_than_unrelated():
    train, _, names = generate_glyphs(num_classes=100, train_per_class=40, test_per_class=0, seed=0)
    m = class_means(train, 100)
    d = np.linalg.norm(m[:, None] - m[None], axis=-1)
    ix = {n: i for i, n in enumerate(names)}

    def dist(a: str, b: str) -> float:
        return float(d[ix[a], ix[b]])

    assert dist("lower_o", "upper_O") < dist("lower_o", "digit_1")
    pairs = [("lower_l", "upper_I"), ("lower_l", "digit_1"), ("upper_S", "digit_5"), ("lower_p", "greek_rho"),
             ("upper_B", "digit_8"), ("digit_0", "upper_O"), ("lower_x", "upper_X"), ("lower_v", "greek_nu")]
    alike = np.mean([dist(a, b) for a, b in pairs])
    everything = d[~np.eye(100, dtype=bool)].mean()
    assert alike < 0.7 * everything, (alike, everything)
