"""Training and fine-tuning of classifiers on prepared splits."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from laq.data.store import Split
from laq.io import LaqError
from laq.seeding import derive_seed, torch_generator
from laq.data.transforms import crop_at, crop_offsets
from laq.device import as_input, channels_last, precision_mode, to_device

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainSettings:
    epochs: int
    lr: float
    batch_size: int = 128
    weight_decay: float = 0.05
    schedule: str = "onecycle"  # onecycle | constant
    crop_pad: int = 4  # random-crop augmentation, in pixels of the stored image; 0 disables
    label_smoothing: float = 0.0
    config_key: str = "model.train"  # the config section these came from, named when training diverges


def set_seed(seed: int) -> torch.Generator:
    """Seed torch's global stream (layers that draw from it) and return the stream of batch order and crops."""
    torch.manual_seed(derive_seed(seed, "train", "global"))
    return torch_generator(seed, "train", "batches")


def train_classifier(
    model: nn.Module,
    data: Split,
    preprocess: Callable[[torch.Tensor], torch.Tensor],
    settings: TrainSettings,
    *,
    seed: int = 0,
    device: str = "cpu",
    progress: bool = True,
    threads: int | None = None,
    precision: str = "fp32",
) -> list[dict[str, float]]:
    """AdamW over all outputs with cross-entropy; returns per-epoch loss/accuracy (also logged).

    On CPU the result is reproducible for a given number of torch threads (oneDNN splits its weight
    gradient sums by thread), so callers pin `threads` from config rather than from --cores.
    `precision` (laq.device.PRECISIONS) sets TF32 / bf16 autocast explicitly on every run.
    """
    was_threads, was_onednn = torch.get_num_threads(), torch.backends.mkldnn.enabled
    if threads:
        torch.set_num_threads(threads)
    torch.backends.mkldnn.enabled = was_onednn and onednn_trains_reliably(model)
    try:
        with precision_mode(precision, device), channels_last(model, device):
            return _train(model, data, preprocess, settings, seed=seed, device=device, progress=progress)
    finally:
        torch.set_num_threads(was_threads)
        torch.backends.mkldnn.enabled = was_onednn


def onednn_trains_reliably(model: nn.Module) -> bool:
    """Whether oneDNN's conv backward can train `model` on CPU (about 3x faster than without it).

    With convs of fewer than 8 channels (or grouped convs) this torch build's oneDNN gave different
    weights on every run, and sometimes crashed or hung; RGB input convs and wider layers were exact.
    """
    return all(
        m.groups == 1 and m.out_channels >= 8 and (m.in_channels >= 8 or m.in_channels == 3)
        for m in model.modules()
        if isinstance(m, nn.Conv2d)
    )


def _train(model, data, preprocess, settings, *, seed, device, progress):
    gen = set_seed(seed)
    model.to(device).train()
    # uint8 images and labels move to the device once; batches are cut, cropped and preprocessed there
    images = to_device(torch.from_numpy(data.images), device)
    labels = to_device(torch.from_numpy(data.labels), device)
    n = len(labels)
    steps_per_epoch = max(1, -(-n // settings.batch_size))
    opt = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    sched = None
    if settings.schedule == "onecycle" and settings.epochs > 0:
        total = settings.epochs * steps_per_epoch
        # torch divides by pct_start * total - 1: at exactly 4 steps that is 0, so warm up over 0.3 instead
        sched = torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=settings.lr, total_steps=total, pct_start=0.3 if total == 4 else 0.25
        )
    history = []
    first = math.nan  # the first batch's loss (before any update): the scale a diverging loss is measured against
    for epoch in range(settings.epochs):
        t0 = time.perf_counter()
        # every draw of the epoch from the CPU generator, in the order the steps used to make them:
        # the same batches and crops on any device, and one host-to-device copy per epoch
        perm = torch.randperm(n, generator=gen)
        crops = [crop_offsets(len(perm[s * settings.batch_size : (s + 1) * settings.batch_size]), settings.crop_pad, gen)
                 for s in range(steps_per_epoch)] if settings.crop_pad else []
        perm = to_device(perm, device)
        crops = [(to_device(dy, device), to_device(dx, device)) for dy, dx in crops]
        # losses and hits stay on the device (no host sync per step); checked once per epoch
        losses = torch.zeros(steps_per_epoch, device=images.device)
        correct = torch.zeros((), dtype=torch.int64, device=images.device)
        bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch + 1}/{settings.epochs}", disable=not progress, mininterval=2)
        for step in bar:
            idx = perm[step * settings.batch_size : (step + 1) * settings.batch_size]
            x = images[idx]
            if settings.crop_pad:
                x = crop_at(x, settings.crop_pad, *crops[step])
            x, y = as_input(preprocess(x), device), labels[idx]
            out = model(x)
            loss = F.cross_entropy(out, y, label_smoothing=settings.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
            losses[step] = loss.detach()
            correct += (out.argmax(1) == y).sum()
        bad = (~torch.isfinite(losses)).nonzero()
        if len(bad):
            step = int(bad[0, 0])
            raise _diverged(settings, f"the loss is {float(losses[step])} at epoch {epoch + 1}, step {step + 1}")
        total_loss, values = 0.0, losses.tolist()
        if epoch == 0:
            first = values[0]
        for step, value in enumerate(values):  # summed on the host in step order, as it always was
            total_loss += value * len(perm[step * settings.batch_size : (step + 1) * settings.batch_size])
        correct = int(correct)
        if not all(bool(torch.isfinite(t).all()) for t in model.state_dict().values() if t.is_floating_point()):
            raise _diverged(settings, f"the weights are non-finite after epoch {epoch + 1}")
        _check_divergence(model, settings, epoch, total_loss / n, first, out.shape[-1], preprocess(images[: settings.batch_size]).to(device))
        # no wall time in the record: it ends up in checkpoints, which must be byte-reproducible
        rec = {"epoch": epoch + 1, "loss": total_loss / n, "train_acc": 100.0 * correct / n}
        log.info("epoch %d: loss %.4f, train top-1 %.2f%%, %.1f s", rec["epoch"], rec["loss"], rec["train_acc"], time.perf_counter() - t0)
        history.append(rec)
    return history


GROWTH = 10.0  # an epoch's mean loss above GROWTH x max(first batch's loss, ln classes) is divergence


def _check_divergence(model, settings, epoch, loss, first, classes, held):
    """Stop a run whose loss has grown far beyond where it started, or whose model gives non-finite
    logits in eval mode on a fixed batch (BatchNorm's running statistics can overflow while the
    training-mode loss stays finite). The floor ln(classes), the loss of a uniform guess, keeps a
    fine-tune that starts near 0 from tripping on ordinary noise. Eval mode and no_grad leave weights,
    statistics and random streams as they were, so a healthy run is unchanged."""
    scale = max(first, math.log(max(2, classes)))
    if loss > GROWTH * scale:
        raise _diverged(settings, f"epoch {epoch + 1}'s mean loss {loss:.4g} is over {GROWTH:g}x where it started, {scale:.3g}")
    model.eval()
    with torch.no_grad():
        finite = bool(torch.isfinite(model(held)).all())
    model.train()
    if not finite:
        raise _diverged(settings, f"the model gives non-finite logits in eval mode after epoch {epoch + 1}")


def _diverged(settings: TrainSettings, what: str) -> LaqError:
    """One line naming the settings that make training diverge (a NaN model would otherwise be saved and scored)."""
    key = settings.config_key
    return LaqError(
        f"training diverged ({what}); lower {key}.lr (now {settings.lr}) or {key}.weight_decay (now {settings.weight_decay})."
    )
