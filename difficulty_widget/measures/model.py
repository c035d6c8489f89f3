"""Model-perspective difficulty: what one trained model's output says about each instance.

Definitions (DESIGN.md section 3), for logits z (N x C), p = softmax(z), label y, prediction yhat = argmax z:

- confidence = max_c p_c and true_prob = p_y (Hendrycks & Gimpel, ICLR 2017, "A baseline for detecting
  misclassified and out-of-distribution examples");
- margin = z_y - max_{c != y} z_c, the per-epoch quantity of AUM (Pleiss et al., NeurIPS 2020, "Identifying
  mislabeled data using the area under the margin ranking", eq. 1); negative when another class wins;
- entropy = -sum_c p_c log p_c (natural log);
- loss = -log p_y (cross-entropy);
- correct = (yhat == y); ties in argmax go to the lower class index.

Everything is computed from the log-softmax in float64, so logits of 1e4 do not overflow.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .._validation import check_labels, check_logits
from .registry import Measure, register

MODEL_SCORE_COLUMNS = ("prediction", "correct", "confidence", "true_prob", "margin", "entropy", "loss")

# Rows per chunk so that temporaries stay near 2**22 float64 values (32 MB) whatever C is.
_CHUNK_VALUES = 2**22


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax of a finite float64 array, stable for any magnitude."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def true_class_margin(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """z_y - max_{c != y} z_c along the last axis; ``labels`` broadcasts against the leading axes."""
    index = np.broadcast_to(labels, logits.shape[:-1])[..., None]
    others = logits.copy()
    np.put_along_axis(others, index, -np.inf, axis=-1)
    return np.take_along_axis(logits, index, axis=-1)[..., 0] - others.max(axis=-1)


def model_scores(logits: Any, labels: Any) -> pd.DataFrame:
    """Per-instance model-perspective scores from logits and labels.

    Parameters
    ----------
    logits : array-like or torch.Tensor, shape (N, C)
        Finite pre-softmax outputs of the classifier.
    labels : array-like of int, shape (N,)
        Given labels in ``[0, C)``.

    Returns
    -------
    pandas.DataFrame with N rows and columns ``prediction`` (int64), ``correct`` (bool), ``confidence``,
    ``true_prob``, ``margin``, ``entropy``, ``loss`` (float64), in the order of the input rows.
    """
    z = check_logits(logits)
    n, n_classes = z.shape
    y = check_labels(labels, n=n, n_classes=n_classes)
    out = {name: np.empty(n, dtype=np.float64) for name in MODEL_SCORE_COLUMNS[2:]}
    prediction = np.empty(n, dtype=np.int64)
    step = max(1, _CHUNK_VALUES // n_classes)
    for start in range(0, n, step):
        rows = slice(start, start + step)
        zc, yc = z[rows], y[rows]
        idx = np.arange(zc.shape[0])
        log_p = log_softmax(zc)
        p = np.exp(log_p)
        prediction[rows] = zc.argmax(axis=1)
        out["confidence"][rows] = np.exp(log_p.max(axis=1))
        out["true_prob"][rows] = p[idx, yc]
        out["loss"][rows] = -log_p[idx, yc]
        out["entropy"][rows] = -(p * log_p).sum(axis=1)
        out["margin"][rows] = true_class_margin(zc, yc)
    # Rounding can push the bounded scores a few ulps outside their ranges; clamp to the exact bounds.
    np.clip(out["entropy"], 0.0, np.log(n_classes), out=out["entropy"])
    np.clip(out["confidence"], 1.0 / n_classes, 1.0, out=out["confidence"])
    np.clip(out["loss"], 0.0, None, out=out["loss"])
    frame = pd.DataFrame({"prediction": prediction, "correct": prediction == y, **out})
    return frame[list(MODEL_SCORE_COLUMNS)]


_LOGITS = ("logits", "labels")
for _measure in (
    Measure(
        name="correct",
        perspective="model",
        inputs=_LOGITS,
        direction="hard = low",
        range="{False, True}",
        description="Whether the top-1 prediction equals the given label.",
        reference="Top-1 correctness.",
        compute=model_scores,
    ),
    Measure(
        name="confidence",
        perspective="model",
        inputs=_LOGITS,
        direction="hard = low",
        range="[1/C, 1]",
        description="Largest softmax probability, max_c p_c.",
        reference="Hendrycks & Gimpel, ICLR 2017, maximum softmax probability.",
        compute=model_scores,
    ),
    Measure(
        name="true_prob",
        perspective="model",
        inputs=_LOGITS,
        direction="hard = low",
        range="[0, 1]",
        description="Softmax probability of the given label, p_y.",
        reference="Swayamdipta et al., EMNLP 2020 (data maps use its mean over epochs).",
        compute=model_scores,
    ),
    Measure(
        name="margin",
        perspective="model",
        inputs=_LOGITS,
        direction="hard = low",
        range="(-inf, inf)",
        description="Logit of the given label minus the largest other logit; negative = another class wins.",
        reference="Pleiss et al., NeurIPS 2020, AUM eq. 1 (one epoch).",
        compute=model_scores,
    ),
    Measure(
        name="entropy",
        perspective="model",
        inputs=_LOGITS,
        direction="hard = high",
        range="[0, log C]",
        description="Entropy of the softmax distribution, natural log.",
        reference="Shannon entropy of the predictive distribution.",
        compute=model_scores,
    ),
    Measure(
        name="loss",
        perspective="model",
        inputs=_LOGITS,
        direction="hard = high",
        range="[0, inf)",
        description="Cross-entropy of the given label, -log p_y.",
        reference="Cross-entropy loss per instance.",
        compute=model_scores,
    ),
):
    register(_measure)
