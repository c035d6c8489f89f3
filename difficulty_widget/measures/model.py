"""Model-perspective difficulty: what one trained model's output says about each instance.

Definitions (DESIGN.md section 3), for logits z (N x C), p = softmax(z), label y, prediction yhat = argmax z:

- confidence = max_c p_c and true_prob = p_y (Hendrycks & Gimpel, ICLR 2017, "A baseline for detecting
  misclassified and out-of-distribution examples");
- margin = z_y - max_{c != y} z_c, the per-epoch quantity of AUM (Pleiss et al., NeurIPS 2020, "Identifying
  mislabeled data using the area under the margin ranking", eq. 1); negative when another class wins;
- entropy = -sum_c p_c log p_c (natural log);
- loss = -log p_y (cross-entropy);
- correct = (yhat == y); ties in argmax go to the lower class index.

The standard battery of label-quality scores (:func:`battery_scores`, one pass over the logits):

- el2n = ||p - e_y||_2 (Paul, Ganguli, Dziugaite, NeurIPS 2021), :func:`el2n`;
- normalized_margin = (p_y - max_{k != y} p_k + 1) / 2 and confidence_weighted_entropy, exactly as cleanlab 2.x
  defines them (``cleanlab.rank.get_label_quality_scores``), :func:`normalized_margin`,
  :func:`confidence_weighted_entropy`;
- mistakenness = (m * c + 1) / 2, m = -1 when correct and +1 when wrong, c = max_k p_k, as FiftyOne Brain's
  ``compute_mistakenness`` defines it for classifications, :func:`mistakenness`.

Everything is computed from the log-softmax in float64, so logits of 1e4 do not overflow.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from .._validation import check_bool, check_labels, check_logits
from .registry import Measure, register

MODEL_SCORE_COLUMNS = ("prediction", "correct", "confidence", "true_prob", "margin", "entropy", "loss")
BATTERY_COLUMNS = ("el2n", "normalized_margin", "confidence_weighted_entropy", "mistakenness")

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


# cleanlab's lower bound on p_y and on the weighted entropy (cleanlab.internal.constants.CLIPPING_LOWER_BOUND).
_CLEANLAB_CLIP = 1e-6


def without_label(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """A copy of ``probs`` (..., C) with the given label's entry set to 0; ``labels`` broadcasts to the leading axes."""
    index = np.broadcast_to(labels, probs.shape[:-1])[..., None]
    rest = probs.copy()
    np.put_along_axis(rest, index, 0.0, axis=-1)
    return rest


def el2n_from_probs(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """||p - e_y||_2 along the last axis, as sqrt((sum_{k != y} p_k)^2 + sum_{k != y} p_k^2): 1 - p_y is summed
    from the other classes, so a near-certain row keeps its digits instead of cancelling to 0."""
    rest = without_label(probs, labels)
    return np.clip(np.sqrt(rest.sum(axis=-1) ** 2 + (rest**2).sum(axis=-1)), 0.0, np.sqrt(2.0))


_Kernel = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def _el2n(z: np.ndarray, log_p: np.ndarray, p: np.ndarray, y: np.ndarray) -> np.ndarray:
    return el2n_from_probs(p, y)


def _normalized_margin(z: np.ndarray, log_p: np.ndarray, p: np.ndarray, y: np.ndarray) -> np.ndarray:
    p_y = p[np.arange(len(y)), y]
    return np.clip((p_y - without_label(p, y).max(axis=1) + 1.0) / 2.0, 0.0, 1.0)


def _confidence_weighted_entropy(z: np.ndarray, log_p: np.ndarray, p: np.ndarray, y: np.ndarray) -> np.ndarray:
    normalized_entropy = -(p * log_p).sum(axis=1) / np.log(p.shape[1])
    weighted = normalized_entropy / np.maximum(p[np.arange(len(y)), y], _CLEANLAB_CLIP)
    return np.log1p(weighted) / np.maximum(weighted, _CLEANLAB_CLIP)


def _mistakenness(use_logits: bool = False) -> _Kernel:
    def kernel(z: np.ndarray, log_p: np.ndarray, p: np.ndarray, y: np.ndarray) -> np.ndarray:
        certainty = np.exp((p * log_p).sum(axis=1)) if use_logits else p.max(axis=1)
        sign = np.where(z.argmax(axis=1) == y, -1.0, 1.0)
        return np.clip((sign * certainty + 1.0) / 2.0, 0.0, 1.0)

    return kernel


def per_row(logits: Any, labels: Any, kernels: dict[str, _Kernel]) -> dict[str, np.ndarray]:
    """Validate ``logits`` (N x C) and ``labels`` once, then fill one float64 column per kernel, in row chunks that
    keep the temporaries near 32 MB; each kernel gets (z, log p, p, y) of a chunk."""
    z = check_logits(logits)
    n, n_classes = z.shape
    y = check_labels(labels, n=n, n_classes=n_classes)
    out = {name: np.empty(n, dtype=np.float64) for name in kernels}
    step = max(1, _CHUNK_VALUES // n_classes)
    for start in range(0, n, step):
        rows = slice(start, start + step)
        log_p = log_softmax(z[rows])
        p = np.exp(log_p)
        for name, kernel in kernels.items():
            out[name][rows] = kernel(z[rows], log_p, p, y[rows])
    return out


def el2n(logits: Any, labels: Any) -> np.ndarray:
    """EL2N score ||softmax(z) - e_y||_2 per instance, in [0, sqrt(2)]; high = hard.

    Paul, Ganguli, Dziugaite, "Deep learning on a data diet: finding important examples early in training",
    NeurIPS 2021 (the error L2-norm; the paper averages it over a few runs early in training, see
    :func:`~difficulty_widget.measures.dynamics.el2n_early` for the per-epoch version).
    """
    return per_row(logits, labels, {"el2n": _el2n})["el2n"]


def normalized_margin(logits: Any, labels: Any) -> np.ndarray:
    """cleanlab's "normalized_margin" label-quality score, (p_y - max_{k != y} p_k + 1) / 2, in [0, 1]; low = hard.

    Exactly ``cleanlab.rank.get_label_quality_scores(labels, softmax(logits), method="normalized_margin")``
    (cleanlab 2.x, ``get_normalized_margin_for_each_label``; Northcutt, Jiang, Chuang, JAIR 2021). The shift
    and halving map the probability margin p_y - max_{k != y} p_k from [-1, 1] onto [0, 1].
    """
    return per_row(logits, labels, {"normalized_margin": _normalized_margin})["normalized_margin"]


def confidence_weighted_entropy(logits: Any, labels: Any) -> np.ndarray:
    """cleanlab's "confidence_weighted_entropy" label-quality score, in [0, 1); low = hard.

    With H~ = -sum_k p_k log p_k / log C (entropy normalised to [0, 1]) and s = H~ / max(p_y, 1e-6), the score is
    log(1 + s) / max(s, 1e-6), exactly ``cleanlab.rank.get_label_quality_scores(..., method=
    "confidence_weighted_entropy")`` (cleanlab 2.x, ``get_confidence_weighted_entropy_for_each_label``).
    cleanlab's clipping has a consequence kept here: a near-certain row (s < 1e-6) scores s / 1e-6, so an
    extremely confident prediction falls towards 0, the "worst" end.
    """
    return per_row(logits, labels, {"cwe": _confidence_weighted_entropy})["cwe"]


def mistakenness(logits: Any, labels: Any, *, use_logits: bool = False) -> np.ndarray:
    """FiftyOne Brain's mistakenness of a classification, (m * c + 1) / 2, in [0, 1]; high = likely a mistake.

    m = -1 when the prediction argmax z equals the label and +1 otherwise; c = max_k p_k, the prediction's
    confidence (FiftyOne's default), or c = exp(-H(p)) with the natural-log entropy H when ``use_logits``
    (``fiftyone.brain.compute_mistakenness(..., use_logits=True)``). Confident and wrong is near 1, confident and
    right near 0, unsure in between (``fiftyone/brain/internal/core/mistakenness.py``, classification case).
    """
    use_logits = check_bool(use_logits, "use_logits")
    return per_row(logits, labels, {"mistakenness": _mistakenness(use_logits)})["mistakenness"]


def battery_scores(logits: Any, labels: Any) -> pd.DataFrame:
    """Registry adapter: the label-quality battery (columns ``BATTERY_COLUMNS``) in one pass over the logits."""
    kernels = {
        "el2n": _el2n,
        "normalized_margin": _normalized_margin,
        "confidence_weighted_entropy": _confidence_weighted_entropy,
        "mistakenness": _mistakenness(),
    }
    return pd.DataFrame(per_row(logits, labels, kernels))


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

for _measure in (
    Measure(
        name="el2n",
        perspective="model",
        inputs=_LOGITS,
        direction="hard = high",
        range="[0, sqrt(2)]",
        description="Error L2-norm ‖p - e_y‖ of the softmax against the one-hot label.",
        reference="Paul, Ganguli, Dziugaite, NeurIPS 2021 (EL2N).",
        compute=battery_scores,
    ),
    Measure(
        name="normalized_margin",
        perspective="model",
        inputs=_LOGITS,
        direction="hard = low",
        range="[0, 1]",
        description="(p_y - max_{k != y} p_k + 1) / 2, cleanlab's probability margin.",
        reference="cleanlab 2.x get_label_quality_scores(method='normalized_margin'); Northcutt et al., JAIR 2021.",
        compute=battery_scores,
    ),
    Measure(
        name="confidence_weighted_entropy",
        perspective="model",
        inputs=_LOGITS,
        direction="hard = low",
        range="[0, 1)",
        description="log(1 + s) / s with s = (entropy / log C) / p_y, clipped at 1e-6 as cleanlab does.",
        reference="cleanlab 2.x get_label_quality_scores(method='confidence_weighted_entropy').",
        compute=battery_scores,
    ),
    Measure(
        name="mistakenness",
        perspective="model",
        inputs=_LOGITS,
        direction="hard = high",
        range="[0, 1]",
        description="(m * max_k p_k + 1) / 2, m = -1 when the prediction is right and +1 when wrong.",
        reference="FiftyOne Brain compute_mistakenness (classification, confidence-based).",
        compute=battery_scores,
    ),
):
    register(_measure)
