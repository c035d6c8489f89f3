"""Variance of Gradients (VoG): how much the input gradient of an instance's own logit moves during training.

Agarwal, D'souza, Hooker, "Estimating example difficulty using variance of gradients", CVPR 2022, section 2.
At K checkpoints t of one training run, for an instance x with given label y:

- eq. 1: S_t = d z_y / d x, the gradient of the pre-softmax logit of the label with respect to every input value
  (pixel and channel), at checkpoint t (:func:`difficulty_widget.extract.input_gradients` computes it);
- eq. 2: per input value p, mu_p = 1/K sum_t S_t,p and VoG_p = sqrt(1/K sum_t (S_t,p - mu_p)^2), the population
  standard deviation over the checkpoints, then VoG = 1/D sum_p VoG_p, its mean over the D input values (all
  pixels and channels). The typeset equation places the square root over 1/K only; the reading here (the root of
  the mean squared deviation) is that of the authors' description, "the variance of gradients", and of public
  implementations such as Datagnosis' ``VOGPlugin``;
- eq. 3: the class-normalised score (VoG - mean_c VoG) / std_c VoG, the mean and the population standard
  deviation over the instances of the same class c = y (0 where a class's VoG are all equal). We keep its sign, so
  that high = hard holds; some implementations take its absolute value.

The per-value statistics are kept online by :class:`GradientVariance` (Welford's running mean and sum of squared
deviations in float64), so memory is 2 x N x D float64 whatever K is. ``variance_of_gradients`` does the same from
a stored (K x N x ...) array. The registry entry ``vog`` takes the input ``input_gradients``: a
:class:`GradientVariance` (``DynamicsRecorder(data, input_gradients=True).input_gradients``, or a
``TrainingResult`` from ``train_model(..., record_input_gradients=True)``), or a (K x N_train x ...) array.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .._validation import check_bool, check_labels, to_numpy
from .registry import Measure, register
from .support import SupportRows, expand

# Rows per chunk when converting a (K x N x D) array to float64 (about 32 MB of temporaries).
_CHUNK_VALUES = 2**22


class GradientVariance:
    """Welford's online mean and variance, per instance and input value, of input gradients over checkpoints.

    ``update(gradients)`` adds one checkpoint's (N x ...) gradients; float64 running mean and M2 (the sum of
    squared deviations from the running mean) are updated in place, in row chunks:
    delta = S_t - mean, mean += delta / t, M2 += delta * (S_t - mean). After K >= 2 updates, ``scores()`` is
    VoG (eq. 2, M2 / K the population variance) and ``normalized(labels)`` eq. 3, both as
    :func:`variance_of_gradients`.
    """

    def __init__(self) -> None:
        self.count = 0
        self.shape: tuple[int, ...] | None = None
        self._mean: np.ndarray | None = None
        self._m2: np.ndarray | None = None

    def update(self, gradients: Any) -> None:
        """Add one checkpoint: (N x ...) gradients of every instance, in the same order each time, finite."""
        g = to_numpy(gradients)
        if g.ndim < 2 or g.shape[0] == 0:
            raise ValueError(f"gradients must have shape (n_instances, ...) with n_instances >= 1, got {g.shape}")
        if self.shape is not None and g.shape != self.shape:
            raise ValueError(f"gradients has shape {g.shape}, but earlier checkpoints had {self.shape}")
        if not np.issubdtype(g.dtype, np.floating):
            raise ValueError(f"gradients must be floating-point, got dtype {g.dtype}")
        flat = g.reshape(g.shape[0], -1)
        if self._mean is None:
            self.shape = g.shape
            self._mean = np.zeros(flat.shape, dtype=np.float64)
            self._m2 = np.zeros(flat.shape, dtype=np.float64)
        count = self.count + 1
        step = max(1, _CHUNK_VALUES // flat.shape[1])
        for start in range(0, flat.shape[0], step):
            rows = slice(start, start + step)
            value = np.asarray(flat[rows], dtype=np.float64)
            if not np.isfinite(value).all():
                raise ValueError("gradients contains NaN or infinite values")
            mean = self._mean[rows]
            delta = value - mean
            mean += delta / count
            self._m2[rows] += delta * (value - mean)
        self.count = count

    @property
    def n_instances(self) -> int:
        """N, the rows given to :meth:`update` (0 before the first)."""
        return 0 if self.shape is None else self.shape[0]

    @property
    def mean(self) -> np.ndarray:
        """float64 (N x ...): mu, the mean gradient over the checkpoints so far."""
        self._need(1)
        return self._mean.reshape(self.shape)

    @property
    def variance(self) -> np.ndarray:
        """float64 (N x ...): the population variance over the checkpoints, M2 / K."""
        self._need(1)
        return (self._m2 / self.count).reshape(self.shape)

    def scores(self) -> np.ndarray:
        """float64 (N,): VoG (eq. 2), the mean over input values of the per-value standard deviation."""
        self._need(2)
        out = np.empty(self.n_instances, dtype=np.float64)
        step = max(1, _CHUNK_VALUES // self._m2.shape[1])
        for start in range(0, self.n_instances, step):
            out[start : start + step] = np.sqrt(self._m2[start : start + step] / self.count).mean(axis=1)
        return out

    def normalized(self, labels: Any) -> np.ndarray:
        """float64 (N,): the class-normalised VoG (eq. 3) with the given ``labels`` (N,)."""
        return class_normalize(self.scores(), labels)

    def _need(self, k: int) -> None:
        if self.count < k:
            raise ValueError(
                f"VoG needs at least {k} checkpoint(s) of input gradients, got {self.count}: call update(gradients) "
                "once per checkpoint (DynamicsRecorder(data, input_gradients=True).record_model(model))"
            )

    def __repr__(self) -> str:
        return f"GradientVariance(checkpoints={self.count}, shape={self.shape})"


def class_normalize(values: Any, labels: Any) -> np.ndarray:
    """(v - mean_c v) / std_c v per instance, over the instances of its class c (population std; 0 where a class's
    values are all equal): VoG's class normalisation (Agarwal, D'souza, Hooker, CVPR 2022, eq. 3)."""
    v = to_numpy(values).astype(np.float64)
    if v.ndim != 1:
        raise ValueError(f"values must be 1-D (one per instance), got shape {v.shape}")
    y = check_labels(labels, n=len(v))
    out = np.zeros_like(v)
    for c in np.unique(y):
        rows = y == c
        std = v[rows].std()
        if std > 0:
            out[rows] = (v[rows] - v[rows].mean()) / std
    return out


def variance_of_gradients(gradients_per_checkpoint: Any, labels: Any = None, normalize: bool = True) -> np.ndarray:
    """VoG per instance from input gradients at K >= 2 checkpoints, float64 (N,).

    Parameters
    ----------
    gradients_per_checkpoint : (K, N, ...) array: S_t = d z_y / d x per checkpoint t and instance (eq. 1), any
        per-instance shape (C x H x W for images); or a :class:`GradientVariance` holding them.
    labels : (N,) given labels; needed for ``normalize=True``.
    normalize : the class-normalised score (eq. 3) instead of raw VoG (eq. 2).

    Agarwal, D'souza, Hooker, CVPR 2022: VoG = 1/D sum_p sqrt(1/K sum_t (S_t,p - mu_p)^2) with
    mu_p = 1/K sum_t S_t,p (eq. 2, the population standard deviation per input value, averaged over the D values:
    pixels and channels); then (VoG - mean over the class) / std over the class (eq. 3).
    """
    normalize = check_bool(normalize, "normalize")
    if isinstance(gradients_per_checkpoint, GradientVariance):
        raw = gradients_per_checkpoint.scores()
    else:
        g = to_numpy(gradients_per_checkpoint)
        if g.ndim < 3:
            raise ValueError(
                f"gradients_per_checkpoint must have shape (n_checkpoints, n_instances, ...), got {g.shape}"
            )
        if g.shape[0] < 2:
            raise ValueError(f"gradients_per_checkpoint needs at least two checkpoints, got {g.shape[0]}")
        if g.shape[1] == 0:
            raise ValueError("gradients_per_checkpoint has no instances")
        if not np.issubdtype(g.dtype, np.floating):
            raise ValueError(f"gradients_per_checkpoint must be floating-point, got dtype {g.dtype}")
        flat = g.reshape(g.shape[0], g.shape[1], -1)
        raw = np.empty(g.shape[1], dtype=np.float64)
        step = max(1, _CHUNK_VALUES // (flat.shape[0] * flat.shape[2]))
        for start in range(0, g.shape[1], step):
            chunk = np.asarray(flat[:, start : start + step], dtype=np.float64)
            if not np.isfinite(chunk).all():
                raise ValueError("gradients_per_checkpoint contains NaN or infinite values")
            raw[start : start + step] = chunk.std(axis=0).mean(axis=1)
    if not normalize:
        return raw
    if labels is None:
        raise ValueError("normalize=True needs labels (VoG is normalised per class, eq. 3), or normalize=False")
    return class_normalize(raw, labels)


def input_gradient_values(input_gradients: Any) -> Any:
    """The :class:`GradientVariance` of a recorder or a training result, or the object itself (an array)."""
    values = getattr(input_gradients, "input_gradients", input_gradients)
    if values is None:
        raise ValueError("input_gradients: none recorded (train_model(..., record_input_gradients=True)?)")
    return values


def vog_scores(input_gradients: Any, labels: Any, support_mask: Any = None) -> pd.DataFrame:
    """Registry adapter: the ``vog`` column, class-normalised VoG (eq. 3) of the training rows.

    ``input_gradients`` covers the training rows, in order (every row, or the rows of ``support_mask``; the other
    rows get missing values): a :class:`GradientVariance`, an object with one as ``.input_gradients`` (a
    ``DynamicsRecorder`` or ``TrainingResult``), or a (K x N_train x ...) array. The class statistics are taken
    over the training rows.
    """
    rows = SupportRows.from_mask(support_mask, len(labels))
    y = check_labels(labels)[rows.support]
    values = input_gradient_values(input_gradients)
    raw = variance_of_gradients(values, normalize=False)
    if len(raw) != len(y):
        raise ValueError(f"input_gradients covers {len(raw)} instances, but there are {len(y)} training rows")
    frame = pd.DataFrame({"vog": class_normalize(raw, y)})
    return expand(frame, rows.support, rows.n)


register(
    Measure(
        name="vog",
        perspective="dynamics",
        inputs=("input_gradients", "labels"),
        direction="hard = high",
        range="(-inf, inf)",
        description="Variance of gradients: mean over pixels of the std over checkpoints of d z_y / d x, "
        "normalised per class.",
        reference="Agarwal, D'souza, Hooker, CVPR 2022, eq. 1-3.",
        compute=vog_scores,
        optional=("support_mask",),
    )
)
