"""Training dynamics: what the training run says about each training instance, from one record per epoch.

Inputs are the training set's logits recorded after each epoch, ``logits_per_epoch`` (E x N x C), which
:func:`difficulty_widget.extract.train_model` returns with ``record_logits=True`` (or any loop of your own).

- ``data_map``: mean and standard deviation over epochs of the true-class probability, and the share of
  epochs predicted correctly (Swayamdipta et al., "Dataset Cartography", EMNLP 2020, section 2), with the
  regions easy-to-learn / ambiguous / hard-to-learn;
- ``forgetting_events``: transitions from correct to incorrect between consecutive records (Toneva et al.,
  "An empirical study of example forgetting", ICLR 2019); never-learned instances are flagged;
- ``area_under_margin``: the mean over epochs of the margin z_y - max_{c != y} z_c (Pleiss et al., NeurIPS
  2020, eq. 1-2);
- ``iteration_learned``: the first epoch from which the instance stays correct to the end (Baldock et al.,
  NeurIPS 2021); undefined when the last record is wrong (then E, flagged).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .._validation import check_labels, to_numpy
from .model import log_softmax, true_class_margin
from .registry import Measure, register
from .support import SupportRows, expand

REGIONS = ("easy-to-learn", "ambiguous", "hard-to-learn")


def check_per_epoch(values: Any, name: str, ndim: int) -> np.ndarray:
    """An (E x N [x C]) array with E >= 2 records, finite."""
    arr = to_numpy(values)
    if arr.ndim != ndim:
        shape = "(n_epochs, n_instances, n_classes)" if ndim == 3 else "(n_epochs, n_instances)"
        raise ValueError(f"{name} must have shape {shape}, got {arr.shape}")
    if arr.shape[0] < 2:
        raise ValueError(f"{name} needs at least two epochs (records), got {arr.shape[0]}")
    if arr.shape[1] == 0:
        raise ValueError(f"{name} has no instances")
    if np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def _true_probs_and_correct(logits_per_epoch: Any, labels: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    z = check_per_epoch(logits_per_epoch, "logits_per_epoch", 3).astype(np.float64)
    y = check_labels(labels, n=z.shape[1], n_classes=z.shape[2])
    log_p = np.stack([log_softmax(epoch) for epoch in z])
    true_prob = np.exp(np.take_along_axis(log_p, y[None, :, None], axis=2)[..., 0])
    correct = z.argmax(axis=2) == y[None, :]
    return z, true_prob, correct


def data_map(
    logits_per_epoch: Any,
    labels: Any,
    *,
    variability_threshold: float | None = None,
    confidence_threshold: float | None = None,
) -> pd.DataFrame:
    """Data-map coordinates per instance: ``dm_confidence``, ``dm_variability`` (population std), ``dm_correctness``
    and ``dm_region``: ambiguous when variability >= ``variability_threshold``, else easy-to-learn when
    confidence >= ``confidence_threshold``, else hard-to-learn.

    By default the thresholds are relative, after the 33% subsets of Swayamdipta et al. (2020, section 3): the
    most variable third is ambiguous, and the rest is split at its median confidence into easy-to-learn and
    hard-to-learn, so each region holds about a third. Fixed thresholds (e.g. 0.2 and 0.5) depend on the number
    of epochs recorded: over a long run from scratch, every instance's true-class probability climbs from chance
    to 1, and its variability with it."""
    _, true_prob, correct = _true_probs_and_correct(logits_per_epoch, labels)
    return _data_map(true_prob, correct, variability_threshold, confidence_threshold)


def _data_map(
    true_prob: np.ndarray,
    correct: np.ndarray,
    variability_threshold: float | None = None,
    confidence_threshold: float | None = None,
) -> pd.DataFrame:
    confidence = true_prob.mean(axis=0)
    variability = true_prob.std(axis=0)
    if variability_threshold is None:
        variability_threshold = float(np.quantile(variability, 2 / 3))
    if confidence_threshold is None:
        steady = confidence[variability < variability_threshold]
        confidence_threshold = float(np.median(steady)) if steady.size else 0.5
    region = np.where(
        variability >= variability_threshold,
        "ambiguous",
        np.where(confidence >= confidence_threshold, "easy-to-learn", "hard-to-learn"),
    )
    return pd.DataFrame(
        {
            "dm_confidence": confidence,
            "dm_variability": variability,
            "dm_correctness": correct.mean(axis=0),
            "dm_region": pd.Categorical(region, categories=list(REGIONS)),
        }
    )


def forgetting_events(correct_per_epoch: Any) -> tuple[np.ndarray, np.ndarray]:
    """(number of correct -> incorrect transitions, never-learned flag) per instance."""
    correct = check_per_epoch(correct_per_epoch, "correct_per_epoch", 2).astype(bool)
    forgotten = (correct[:-1] & ~correct[1:]).sum(axis=0)
    return forgotten.astype(np.int64), ~correct.any(axis=0)


def iteration_learned(correct_per_epoch: Any) -> tuple[np.ndarray, np.ndarray]:
    """(first epoch from which the instance stays correct, undefined flag); undefined -> E."""
    correct = check_per_epoch(correct_per_epoch, "correct_per_epoch", 2).astype(bool)
    stays = np.logical_and.accumulate(correct[::-1], axis=0)[::-1]  # stays[e]: correct from e to the end
    learned = correct.shape[0] - stays.sum(axis=0)
    return learned.astype(np.int64), ~correct[-1]


def area_under_margin(logits_per_epoch: Any, labels: Any) -> np.ndarray:
    """Mean over epochs of z_y - max_{c != y} z_c."""
    z = check_per_epoch(logits_per_epoch, "logits_per_epoch", 3).astype(np.float64)
    y = check_labels(labels, n=z.shape[1], n_classes=z.shape[2])
    return true_class_margin(z, y[None, :]).mean(axis=0)


def dynamics_scores(logits_per_epoch: Any, labels: Any, support_mask: Any = None) -> pd.DataFrame:
    """Registry adapter: every training-dynamics column from the per-epoch logits.

    ``logits_per_epoch`` covers the training rows, in order: every row, or the rows of ``support_mask`` when a
    table also holds other rows (which then get missing values).
    """
    rows = SupportRows.from_mask(support_mask, len(labels))
    y = check_labels(labels)[rows.support]
    z, true_prob, correct = _true_probs_and_correct(logits_per_epoch, y)  # one validation, one pass
    frame = _data_map(true_prob, correct)  # relative thresholds: about a third of the rows per region
    frame["forgetting_events"], frame["never_learned"] = forgetting_events(correct)
    frame["aum"] = true_class_margin(z, y[None, :]).mean(axis=0)
    frame["iteration_learned"], frame["learned_undefined"] = iteration_learned(correct)
    return expand(frame, rows.support, rows.n)


_IN = ("logits_per_epoch", "labels")
_OPTIONAL = ("support_mask",)
for _measure in (
    Measure("dm_confidence", "dynamics", _IN, "hard = low", "[0, 1]",
            "Mean over epochs of the true-class probability.", "Swayamdipta et al., EMNLP 2020.",
            dynamics_scores, _OPTIONAL),
    Measure("dm_variability", "dynamics", _IN, "hard = high", "[0, 0.5]",
            "Standard deviation over epochs of the true-class probability.", "Swayamdipta et al., EMNLP 2020.",
            dynamics_scores, _OPTIONAL),
    Measure("dm_correctness", "dynamics", _IN, "hard = low", "[0, 1]",
            "Share of epochs in which the prediction was correct.", "Swayamdipta et al., EMNLP 2020.",
            dynamics_scores, _OPTIONAL),
    Measure("forgetting_events", "dynamics", _IN, "hard = high", "{0, ..., E-1}",
            "Correct -> incorrect transitions between consecutive epochs.", "Toneva et al., ICLR 2019.",
            dynamics_scores, _OPTIONAL),
    Measure("aum", "dynamics", _IN, "hard = low", "(-inf, inf)",
            "Area under the margin: mean over epochs of z_y - max_{c != y} z_c.", "Pleiss et al., NeurIPS 2020.",
            dynamics_scores, _OPTIONAL),
    Measure("iteration_learned", "dynamics", _IN, "hard = high", "{0, ..., E}",
            "First epoch from which the prediction stays correct (E when the last epoch is wrong).",
            "Baldock, Maennel, Neyshabur, NeurIPS 2021.", dynamics_scores, _OPTIONAL),
):  # fmt: skip
    register(_measure)
