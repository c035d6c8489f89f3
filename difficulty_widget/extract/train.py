"""A seeded trainer for the small models, which can record the training set's logits after every epoch, the input
gradients of VoG, and train with AUM's threshold samples."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F
from tqdm.auto import tqdm

from .._validation import check_bool, check_positive_int
from ..data.images import ImageData
from ..data.torch_dataset import ImageArrayDataset
from ..measures.vog import GradientVariance
from .extraction import evaluating, pick_device
from .models import make_model
from .recorder import DynamicsRecorder
from .trace import first_tensor

EpochCallback = Callable[[int, nn.Module], None]


@dataclass
class TrainingResult:
    """A trained model, its per-epoch history and, when recorded, the training-set logits per epoch.

    ``logits_per_epoch`` is float32 (E, N, C): the logits of every training instance, in dataset order,
    computed in eval mode at the end of each epoch (the input of the training-dynamics measures).
    ``input_gradients`` (``record_input_gradients=True``): the running statistics of d z_y / d x over the epochs,
    the input of the ``vog`` measure.

    With ``threshold_samples=True`` (Pleiss et al., NeurIPS 2020, section 3) the model has C + 1 outputs;
    ``full_logits_per_epoch`` (E, N, C + 1) keeps them all, ``logits_per_epoch`` is its first C columns (for the
    other measures, with the real labels); ``training_labels`` are the labels trained on (C for the threshold
    samples), ``threshold_mask`` marks the threshold samples, ``aum`` is the AUM on the C + 1 logits with the
    training labels, ``aum_threshold`` the 99th percentile of the threshold samples' AUM, and ``mislabelled``
    flags the other instances whose AUM is below it.
    """

    model: nn.Module
    history: pd.DataFrame
    logits_per_epoch: np.ndarray | None = None
    input_gradients: GradientVariance | None = None
    full_logits_per_epoch: np.ndarray | None = None
    training_labels: np.ndarray | None = None
    threshold_mask: np.ndarray | None = None
    aum: np.ndarray | None = None
    aum_threshold: float | None = None
    mislabelled: np.ndarray | None = None


def train_model(
    model: nn.Module,
    data: ImageData,
    *,
    epochs: int = 5,
    batch_size: int = 128,
    lr: float = 2e-3,
    weight_decay: float = 0.0,
    seed: int = 0,
    record_logits: bool = False,
    record_input_gradients: bool = False,
    threshold_samples: bool = False,
    on_epoch_end: EpochCallback | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> TrainingResult:
    """Train ``model`` with Adam and cross-entropy on ``data``; deterministic for a given seed.

    ``on_epoch_end(epoch, model)`` is called after each epoch (epochs count from 0), for users who record
    their own training dynamics; ``record_logits=True`` records the training-set logits per epoch.

    ``record_input_gradients=True`` also accumulates, after each epoch, the input gradients d z_y / d x of every
    training instance (one backward pass over the training set per epoch) for VoG (Agarwal, D'souza, Hooker,
    CVPR 2022): ``TrainingResult.input_gradients``.

    ``threshold_samples=True`` trains with AUM's threshold samples (Pleiss et al., NeurIPS 2020, section 3):
    N / (C + 1) instances drawn with ``seed`` get the fake label C = ``data.n_classes``, so ``model`` must have
    C + 1 outputs; the logits are recorded (as with ``record_logits=True``) and the result carries the mask, the
    AUM threshold and the flag (see :class:`TrainingResult`).
    """
    record_logits = check_bool(record_logits, "record_logits")
    record_input_gradients = check_bool(record_input_gradients, "record_input_gradients")
    threshold_samples = check_bool(threshold_samples, "threshold_samples")
    progress = check_bool(progress, "progress")
    if not isinstance(data, ImageData):
        raise ValueError(f"data must be an ImageData (see difficulty_widget.data), got {type(data).__name__}")
    epochs = check_positive_int(epochs, "epochs")
    batch_size = check_positive_int(batch_size, "batch_size")
    dev = pick_device(model, device)
    model.to(dev)
    record = record_logits or record_input_gradients or threshold_samples
    recorder = None
    if record:
        recorder = DynamicsRecorder(
            ImageArrayDataset(data.images, data.labels), batch_size=512, device=dev,
            input_gradients=record_input_gradients, threshold_samples=threshold_samples, n_classes=data.n_classes,
            labels=data.labels, seed=seed,
        )  # fmt: skip
    if threshold_samples:
        _check_outputs(model, data, dev, data.n_classes + 1)
    labels = recorder.training_labels if threshold_samples else data.labels
    dataset = ImageArrayDataset(data.images, labels)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    n = len(dataset)
    rows = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        bar = tqdm(total=epochs * n, desc="train", unit="img", disable=not progress, leave=False)
        for epoch in range(epochs):
            model.train()
            order = torch.randperm(n, generator=generator).numpy()
            total_loss, total_correct = 0.0, 0
            for start in range(0, n, batch_size):
                index = order[start : start + batch_size]
                x, y = dataset.batch_index(index)
                x, y = x.to(dev), y.to(dev)
                optimizer.zero_grad(set_to_none=True)
                logits = model(x)
                loss = F.cross_entropy(logits, y)
                loss.backward()
                optimizer.step()
                total_loss += float(loss.detach()) * len(y)
                total_correct += int((logits.argmax(1) == y).sum())
                bar.update(len(y))
            rows.append({"epoch": epoch, "loss": total_loss / n, "accuracy": total_correct / n})
            if recorder is not None:
                recorder.record_model(model)
            if on_epoch_end is not None:
                on_epoch_end(epoch, model)
        bar.close()
    model.eval()
    history = pd.DataFrame(rows)
    result = TrainingResult(model=model, history=history)
    if recorder is not None and (record_logits or threshold_samples):
        result.logits_per_epoch = recorder.logits_per_epoch
    if record_input_gradients:
        result.input_gradients = recorder.input_gradients
    if threshold_samples:
        result.full_logits_per_epoch = recorder.full_logits_per_epoch
        result.training_labels = recorder.training_labels
        result.threshold_mask = recorder.threshold_mask
        result.aum = recorder.aum()
        result.aum_threshold = recorder.aum_threshold()
        result.mislabelled = recorder.mislabelled()
    return result


def _check_outputs(model: nn.Module, data: ImageData, device: torch.device, expected: int) -> None:
    """Refuse a model whose logits do not have ``expected`` columns (one eval forward of one image)."""
    x, _ = ImageArrayDataset(data.images[:1], data.labels[:1]).batch(0, 1)
    with evaluating(model, device), torch.no_grad():
        z = first_tensor(model(x.to(device)))
    if z is None or z.ndim != 2 or z.shape[1] != expected:
        shape = None if z is None else tuple(z.shape)
        raise ValueError(
            f"threshold_samples=True needs a model with C + 1 = {expected} outputs (the {expected - 1} classes and "
            f"the fake class of the threshold samples), got logits of shape {shape}: build it with "
            f"make_model(kind, {expected}, ...) or use train_small_model(..., threshold_samples=True)"
        )


def train_small_model(
    data: ImageData, kind: str = "cnn", *, epochs: int = 5, seed: int = 0, **kwargs
) -> TrainingResult:
    """Build a seeded :func:`~difficulty_widget.extract.models.make_model` for ``data`` and train it; with
    ``threshold_samples=True`` the model has ``data.n_classes + 1`` outputs (see :func:`train_model`)."""
    outputs = data.n_classes + 1 if kwargs.get("threshold_samples") else data.n_classes
    model = make_model(kind, outputs, data.images.shape[1:], seed=seed)
    return train_model(model, data, epochs=epochs, seed=seed, **kwargs)
