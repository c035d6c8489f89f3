"""Training-dynamics recorder: the training set's logits once per epoch (optionally the input gradients of VoG and
the threshold samples of AUM), for any training loop."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from .._validation import check_bool, check_labels, check_logits, check_positive_int, to_numpy
from ..measures.dynamics import aum_mislabelled, aum_threshold, threshold_sample_labels
from ..measures.model import true_class_margin
from ..measures.vog import GradientVariance
from .extraction import extract, iter_batches
from .input_gradients import input_gradients as compute_input_gradients


class DynamicsRecorder:
    """Collects the training set's logits (N x C, dataset order) once per epoch.

    Call :meth:`record` with logits you computed, or :meth:`record_model` (or the recorder itself, so it can be
    an ``on_epoch_end(epoch, model)`` callback) to run the model over ``data`` in eval mode (each module's mode
    is restored afterwards). :attr:`logits_per_epoch` (E x N x C, float32) is the input of the
    training-dynamics measures and of :func:`difficulty_widget.analyze`.

    Example::

        recorder = DynamicsRecorder(train_data)
        for epoch in range(epochs):
            train_one_epoch(model)
            recorder.record_model(model)
        analysis = dw.analyze(model, train_data, test_data, logits_per_epoch=recorder)

    ``input_gradients=True``: each :meth:`record_model` also computes d z_y / d x for every instance
    (:func:`~difficulty_widget.extract.input_gradients`, y = :attr:`training_labels`) and adds it to a
    :class:`~difficulty_widget.measures.vog.GradientVariance` (float64 running mean and M2 per input value: memory
    16 x N x D bytes, constant in the number of checkpoints), :attr:`input_gradients`, the input of the ``vog``
    measure. It costs about one backward pass over the training set per record.

    ``labels`` (N,) overrides the labels read from ``data`` (its ``labels`` attribute, else one pass over it).

    ``threshold_samples=True`` (with ``n_classes`` = C, the real classes, and ``seed``): AUM's threshold samples
    (Pleiss et al., NeurIPS 2020, section 3). N / (C + 1) random instances get the fake label C:
    :attr:`training_labels` are the labels to train on, :attr:`threshold_mask` marks them, and the model must have
    C + 1 outputs. :attr:`full_logits_per_epoch` keeps the C + 1 columns; :attr:`logits_per_epoch` gives the first
    C (what the other training-dynamics measures, with the real labels, expect). :meth:`aum` is computed on the
    C + 1 logits with the training labels (the fake class competes in every margin, as in the paper),
    :meth:`aum_threshold` is the 99th percentile of the threshold samples' AUM and :meth:`mislabelled` flags the
    other instances below it.
    """

    def __init__(
        self,
        data: Any = None,
        *,
        batch_size: int = 512,
        device: str | torch.device | None = None,
        input_gradients: bool = False,
        threshold_samples: bool = False,
        n_classes: int | None = None,
        labels: Any = None,
        seed: int = 0,
    ) -> None:
        input_gradients = check_bool(input_gradients, "input_gradients")
        threshold_samples = check_bool(threshold_samples, "threshold_samples")
        self.data = data
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.device = device
        self._records: list[np.ndarray] = []
        self._gradients = GradientVariance() if input_gradients else None
        self._given = None if labels is None else check_labels(labels)
        self._labels: np.ndarray | None = None
        if (input_gradients or threshold_samples) and data is None and labels is None:
            raise ValueError("input_gradients and threshold_samples need the data: DynamicsRecorder(data, ...)")
        self._threshold_mask: np.ndarray | None = None
        self.n_classes = n_classes
        if threshold_samples:
            if n_classes is None:
                raise ValueError("threshold_samples=True needs n_classes, the number of real classes C")
            self.n_classes = check_positive_int(n_classes, "n_classes")
            self._labels, self._threshold_mask = threshold_sample_labels(self.given_labels, self.n_classes, seed)

    @property
    def given_labels(self) -> np.ndarray:
        """int64 (N,): the labels of ``data`` (or the ``labels`` given), in dataset order."""
        if self._given is None:
            if self.data is None:
                raise ValueError("this recorder has no data to read labels from")
            labels = getattr(self.data, "labels", None)
            if labels is None:
                _, batches = iter_batches(self.data, self.batch_size)
                labels = np.concatenate([to_numpy(y).reshape(-1) for _, y in batches])
            self._given = check_labels(np.asarray(labels))
        return self._given

    @property
    def training_labels(self) -> np.ndarray:
        """int64 (N,): the labels to train on: the given labels, with the threshold samples' set to C when
        ``threshold_samples=True``."""
        return self._labels if self._labels is not None else self.given_labels

    @property
    def threshold_mask(self) -> np.ndarray | None:
        """bool (N,): the threshold samples (``threshold_samples=True``), else ``None``."""
        return self._threshold_mask

    def record(self, logits: Any) -> None:
        """Add one epoch's training-set logits (N x C, or N x (C + 1) with threshold samples; dataset order)."""
        z = check_logits(logits)
        if self._records and z.shape != self._records[0].shape:
            raise ValueError(f"logits has shape {z.shape}, but earlier epochs had {self._records[0].shape}")
        if self._threshold_mask is not None and z.shape != (len(self._threshold_mask), self.n_classes + 1):
            raise ValueError(
                f"with threshold samples the logits must have shape ({len(self._threshold_mask)}, "
                f"{self.n_classes + 1}): the C = {self.n_classes} real classes and the fake one; got {z.shape}"
            )
        self._records.append(np.array(z, dtype=np.float32))

    def record_gradients(self, gradients: Any) -> None:
        """Add one checkpoint's input gradients (N x ...) computed elsewhere (``input_gradients=True``)."""
        if self._gradients is None:
            raise ValueError(
                "this recorder does not record input gradients: DynamicsRecorder(data, input_gradients=True)"
            )
        self._gradients.update(gradients)

    def record_model(self, model: nn.Module) -> None:
        """Run ``model`` over the recorder's ``data`` (``extract``: eval mode, no gradients, every
        module's mode restored afterwards) and record its logits; with ``input_gradients=True`` also its input
        gradients d z_y / d x (y = :attr:`training_labels`)."""
        if self.data is None:
            raise ValueError("this recorder has no data: pass it as DynamicsRecorder(data) or call record(logits)")
        self.record(extract(model, self.data, batch_size=self.batch_size, device=self.device, progress=False).logits)
        if self._gradients is not None:
            labels = self.training_labels
            grads = compute_input_gradients(model, self.data, labels, batch_size=self.batch_size, device=self.device)
            self._gradients.update(grads)

    def __call__(self, epoch: int, model: nn.Module) -> None:
        self.record_model(model)

    @property
    def n_epochs(self) -> int:
        return len(self._records)

    @property
    def full_logits_per_epoch(self) -> np.ndarray:
        """float32 (E x N x outputs): every recorded column, the fake class's too; needs at least one record."""
        if not self._records:
            raise ValueError("nothing recorded yet: call record(logits) or record_model(model) once per epoch")
        return np.stack(self._records)

    @property
    def logits_per_epoch(self) -> np.ndarray:
        """float32 (E x N x C): the real classes' logits (the first C columns with threshold samples)."""
        z = self.full_logits_per_epoch
        return z if self._threshold_mask is None else z[:, :, : self.n_classes]

    @property
    def input_gradients(self) -> GradientVariance | None:
        """The running per-pixel statistics of the input gradients (``input_gradients=True``), else ``None``: the
        ``input_gradients`` input of the ``vog`` measure."""
        return self._gradients

    def aum(self) -> np.ndarray:
        """float64 (N,): area under the margin over the records, on every recorded column with
        :attr:`training_labels` (Pleiss et al., NeurIPS 2020, eq. 1-2)."""
        z = self.full_logits_per_epoch.astype(np.float64)
        y = check_labels(self.training_labels, n=z.shape[1], n_classes=z.shape[2])
        return true_class_margin(z, y[None, :]).mean(axis=0)

    def aum_threshold(self, percentile: float = 99) -> float:
        """The ``percentile``-th percentile of the threshold samples' AUM (Pleiss et al., section 3)."""
        if self._threshold_mask is None:
            raise ValueError("no threshold samples: DynamicsRecorder(data, threshold_samples=True, n_classes=C)")
        return aum_threshold(self.aum()[self._threshold_mask], percentile)

    def mislabelled(self, percentile: float = 99) -> np.ndarray:
        """bool (N,): instances (not threshold samples) whose AUM is below :meth:`aum_threshold`."""
        return aum_mislabelled(self.aum(), self.aum_threshold(percentile), self._threshold_mask)

    def __repr__(self) -> str:
        shape = self._records[0].shape if self._records else None
        extra = "".join(
            [
                f", gradient checkpoints={self._gradients.count}" if self._gradients is not None else "",
                f", threshold samples={int(self._threshold_mask.sum())}" if self._threshold_mask is not None else "",
            ]
        )
        return f"DynamicsRecorder(epochs={self.n_epochs}, logits shape per epoch={shape}{extra})"
