import copy

import numpy as np
import pytest
import torch
from torch import nn

from laq.embed import last_linear, penultimate_features
from laq.io import LaqError


def _preprocess(batch: torch.Tensor) -> torch.Tensor:
    return batch.permute(0, 3, 1, 2).float().div(255.0)


def _images(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(n, 8, 8, 3), dtype=np.uint8)


class TwoHeads(nn.Module):
    """The classifier Linear is registered last but is not the only Linear (like timm's pre-logits MLPs)."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.body = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.pre = nn.Linear(4, 6)
        self.drop = nn.Dropout(0.5)
        self.fc = nn.Linear(6, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.drop(torch.relu(self.pre(self.body(x)))))


def test_features_equal_manual_forward_across_uneven_batches():
    model = TwoHeads()
    imgs = _images(11)
    feats = penultimate_features(model, imgs, preprocess=_preprocess, batch_size=4, progress=False)
    with torch.no_grad():
        model.eval()
        manual = torch.relu(model.pre(model.body(_preprocess(torch.from_numpy(imgs))))).numpy()
    assert feats.dtype == np.float32 and feats.shape == (11, 6)
    np.testing.assert_allclose(feats, manual, rtol=1e-5, atol=1e-6)


def test_eval_mode_is_used_and_training_mode_restored():
    model = TwoHeads().train()
    imgs = _images(6)
    a = penultimate_features(model, imgs, preprocess=_preprocess, batch_size=6, progress=False)
    b = penultimate_features(model, imgs, preprocess=_preprocess, batch_size=6, progress=False)
    # Dropout would make the two runs differ if the model were left in training mode.
    np.testing.assert_array_equal(a, b)
    assert model.training


def test_cifar_resnet_features_equal_model_without_head():
    from laq.models.resnet import CifarResNet

    torch.manual_seed(1)
    model = CifarResNet(depth=8, width=4, num_classes=5).eval()
    headless = copy.deepcopy(model)
    headless.fc = nn.Identity()
    imgs = np.random.default_rng(1).integers(0, 256, size=(5, 16, 16, 3), dtype=np.uint8)
    feats = penultimate_features(model, imgs, preprocess=_preprocess, batch_size=2, progress=False)
    with torch.no_grad():
        expected = headless(_preprocess(torch.from_numpy(imgs))).numpy()
    assert last_linear(model) is model.fc
    np.testing.assert_allclose(feats, expected, rtol=1e-5, atol=1e-6)


def test_model_without_linear_is_rejected():
    model = nn.Sequential(nn.Conv2d(3, 2, 1), nn.Flatten())
    with pytest.raises(LaqError, match="no nn.Linear"):
        penultimate_features(model, _images(2), preprocess=_preprocess, progress=False)
