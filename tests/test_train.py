import numpy as np
import pytest
import torch

from laq.data.store import Split
from laq.data.transforms import Preprocess, random_crop
from laq.evaluate import predict_logits
from laq.metrics import topk_accuracy
from laq.models.resnet import CifarResNet
from laq.train import TrainSettings, train_classifier


def _toy(n_per_class=40, seed=0):
    """Four classes told apart by colour: any working training loop learns them quickly."""
    rng = np.random.default_rng(seed)
    colours = np.array([[230, 20, 20], [20, 230, 20], [20, 20, 230], [230, 230, 20]])
    labels = np.repeat(np.arange(4), n_per_class)
    imgs = colours[labels][:, None, None, :] + rng.normal(0, 30, (len(labels), 16, 16, 3))
    return Split(np.clip(imgs, 0, 255).astype(np.uint8), labels.astype(np.int64))


def test_training_learns_a_separable_task():
    data = _toy()
    pre = Preprocess(16, (0.5,) * 3, (0.25,) * 3)
    torch.manual_seed(0)
    model = CifarResNet(8, 4, 4)
    before = topk_accuracy(predict_logits(model, data.images, pre, progress=False), data.labels, 1)
    hist = train_classifier(model, data, pre, TrainSettings(epochs=3, lr=0.01, batch_size=32, crop_pad=2), progress=False)
    after = topk_accuracy(predict_logits(model, data.images, pre, progress=False), data.labels, 1)
    assert hist[-1]["loss"] < hist[0]["loss"]
    assert after >= 90 and after > before


def test_random_crop_is_a_shift_of_the_padded_image():
    g = torch.Generator().manual_seed(0)
    x = torch.arange(2 * 8 * 8 * 3, dtype=torch.uint8).reshape(2, 8, 8, 3)
    y = random_crop(x, 2, g)
    assert y.shape == x.shape
    padded = torch.nn.functional.pad(x, (0, 0, 2, 2, 2, 2))
    for i in range(2):
        assert any(torch.equal(y[i], padded[i, dy : dy + 8, dx : dx + 8]) for dy in range(5) for dx in range(5))


def test_preprocess_resizes_and_normalises():
    x = torch.full((1, 8, 8, 3), 255, dtype=torch.uint8)
    out = Preprocess(16, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))(x)
    assert out.shape == (1, 3, 16, 16)
    assert torch.allclose(out, torch.ones_like(out))


def test_base_model_is_a_function_of_the_seed():
    from laq.stages import make_base_model

    cfg = {"source": "train", "depth": 8, "width": 4, "train": {"epochs": 1, "lr": 0.01, "batch_size": 32, "weight_decay": 0.0}}
    data = _toy(10)

    def weights(seed):
        torch.manual_seed(1234 + seed * 7)  # whatever the global generator held before must not matter
        m, _ = make_base_model(cfg, data, ["r", "g", "b", "y"], seed=seed, device="cpu")
        return torch.cat([p.detach().flatten() for p in m.state_dict().values() if p.is_floating_point()])

    assert torch.equal(weights(0), weights(0))
    assert not torch.equal(weights(0), weights(1))


def test_onednn_is_used_only_where_it_trains_reliably():
    from torch import nn

    from laq.train import onednn_trains_reliably

    assert onednn_trains_reliably(CifarResNet(8, 8, 4)) and onednn_trains_reliably(CifarResNet(8, 16, 4))
    assert not onednn_trains_reliably(CifarResNet(8, 4, 4))
    assert not onednn_trains_reliably(nn.Sequential(nn.Conv2d(3, 16, 3), nn.Conv2d(16, 16, 3, groups=16)))


def test_training_on_the_onednn_path_depends_only_on_pinned_threads():
    """Width 8 trains with oneDNN: repeated runs are identical and --cores (the ambient thread count) does not matter."""
    from laq.stages import make_base_model

    cfg = {"source": "train", "depth": 8, "width": 8, "train": {"epochs": 1, "lr": 0.01, "batch_size": 16, "weight_decay": 0.0}}
    data = _toy(12)
    was = torch.get_num_threads()

    def weights(ambient, pinned):
        torch.set_num_threads(ambient)
        try:
            m, _ = make_base_model(cfg, data, ["r", "g", "b", "y"], seed=0, device="cpu", threads=pinned)
        finally:
            torch.set_num_threads(was)
        return torch.cat([p.detach().flatten() for p in m.state_dict().values() if p.is_floating_point()])

    ref = weights(1, 1)
    assert torch.equal(ref, weights(2, 1)) and torch.equal(ref, weights(1, 1))
    assert torch.get_num_threads() == was


@pytest.mark.parametrize("lr, weight_decay", [(0.01, float("inf")), (float("inf"), 0.0)])
def test_diverging_training_stops_with_one_line_naming_the_settings(lr, weight_decay):
    from laq.io import LaqError

    data = _toy(8)
    pre = Preprocess(16, (0.5,) * 3, (0.25,) * 3)
    torch.manual_seed(0)
    settings = TrainSettings(epochs=2, lr=lr, batch_size=8, weight_decay=weight_decay, schedule="constant", config_key="finetune")
    with pytest.raises(LaqError) as e:
        train_classifier(CifarResNet(8, 4, 4), data, pre, settings, progress=False)
    msg = str(e.value)
    assert "finetune.lr" in msg and "finetune.weight_decay" in msg and "\n" not in msg


@pytest.mark.parametrize("epochs,batch_size", [(1, 40), (2, 80), (1, 160)])  # 4, 4 and 1 steps in all
def test_one_cycle_schedule_trains_any_number_of_steps(epochs, batch_size):
    """torch's OneCycleLR divided by zero at exactly 4 steps (pct_start 0.25); such short runs must train."""
    data = _toy()
    pre = Preprocess(16, (0.5,) * 3, (0.25,) * 3)
    torch.manual_seed(0)
    hist = train_classifier(CifarResNet(8, 4, 4), data, pre, TrainSettings(epochs=epochs, lr=0.01, batch_size=batch_size),
                            progress=False)
    assert len(hist) == epochs and all(np.isfinite(h["loss"]) for h in hist)
