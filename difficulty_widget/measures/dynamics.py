"""Training dynamics: what the training run says about each training instance, from one record per epoch.

Inputs are the training set's logits recorded after each epoch, ``logits_per_epoch`` (E x N x C), which
:func:`difficulty_widget.extract.train_model` returns with ``record_logits=True`` (or any loop of your own).

- ``data_map``: mean and standard deviation over epochs of the true-class probability, and the share of
  epochs predicted correctly (Swayamdipta et al., "Dataset Cartography", EMNLP 2020, section 2), with the
  regions easy-to-learn / ambiguous / hard-to-learn;
- ``forgetting_events``: transitions from correct to incorrect between consecutive records (Toneva et al.,
  "An empirical study of example forgetting", ICLR 2019); never-learned instances are flagged, and in the
  ``forgetting_events`` column they count E, above any learned instance, because Toneva et al. rank them as
  forgotten infinitely often; ``first_learned``, ``first_forgotten`` and ``unforgettable`` after the same paper;
- ``area_under_margin``: the mean over epochs of the margin z_y - max_{c != y} z_c (Pleiss et al., NeurIPS
  2020, eq. 1-2); ``threshold_sample_labels``, ``aum_threshold`` and ``aum_mislabelled``: the paper's threshold
  samples (a fake extra class, section 3) and the flag they calibrate; ``calibrated_aum_threshold`` for a run
  trained without them;
- ``iteration_learned``: the first epoch from which the instance stays correct to the end (Baldock et al.,
  NeurIPS 2021); undefined when the last record is wrong (then E, flagged);
- ``mean_loss``: the mean over epochs of the cross-entropy -log p_y;
- ``el2n_early``: EL2N ||p - e_y||_2 averaged over the first epochs (Paul, Ganguli, Dziugaite, NeurIPS 2021);
- ``data_iq``: Data-IQ's confidence, aleatoric and epistemic uncertainty and its regions easy / ambiguous / hard
  (Seedat, Crabbe, Bica, van der Schaar, NeurIPS 2022).

Epochs are counted from 0: record e is the state after the (e + 1)-th epoch.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .._validation import (
    check_bool,
    check_labels,
    check_positive_int,
    check_real,
    check_real_array,
    check_seed,
    to_numpy,
)
from .model import el2n_from_probs, log_softmax, true_class_margin
from .registry import Measure, register
from .support import SupportRows, expand

REGIONS = ("easy-to-learn", "ambiguous", "hard-to-learn")
DATA_IQ_REGIONS = ("easy", "ambiguous", "hard")


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
    real = np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
    if not (real or (arr.dtype == bool and ndim == 2)):  # booleans are right/wrong records, not logits
        raise ValueError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def check_correct_per_epoch(values: Any) -> np.ndarray:
    """(E x N) right/wrong records as booleans: ``bool``, or numbers that are exactly 0 or 1; anything else (0.5, 2,
    the string 'False') is an error rather than a silent truth value."""
    arr = check_per_epoch(values, "correct_per_epoch", 2)
    if arr.dtype == bool:
        return arr
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ValueError(f"correct_per_epoch must be boolean (or 0/1 numbers), got dtype {arr.dtype}")
    bad = (arr != 0) & (arr != 1)
    if bad.any():
        raise ValueError(
            f"correct_per_epoch must be boolean (or 0/1 numbers), got {np.count_nonzero(bad)} other values, e.g. "
            f"{arr[bad].ravel()[0]!r}"
        )
    return arr.astype(bool)


def _check_threshold(value: Any, name: str) -> float | None:
    """None, or a finite real number (not a bool)."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a finite number or None, got {value!r}")
    if not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number or None, got {value!r}")
    return float(value)


def _log_probs(logits_per_epoch: Any, labels: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(logits as float64, labels, log-softmax), E x N x C each but the labels, after one validation."""
    z = check_per_epoch(logits_per_epoch, "logits_per_epoch", 3).astype(np.float64)
    y = check_labels(labels, n=z.shape[1], n_classes=z.shape[2])
    return z, y, np.stack([log_softmax(epoch) for epoch in z])


def _true_probs_and_correct(logits_per_epoch: Any, labels: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    z, y, log_p = _log_probs(logits_per_epoch, labels)
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
    variability_threshold = _check_threshold(variability_threshold, "variability_threshold")
    confidence_threshold = _check_threshold(confidence_threshold, "confidence_threshold")
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


def forgetting_events(correct_per_epoch: Any, *, rank_never_learned: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(number of correct -> incorrect transitions, never-learned flag) per instance.

    Toneva et al. (ICLR 2019) count a forgetting event when an instance goes from correct to incorrect, and rank
    instances that are never learned as the most forgettable of all (as if forgotten infinitely often). A
    never-learned instance has no transitions, so its count is 0; ``rank_never_learned=True`` gives it E instead,
    above every learned instance's count (at most E // 2): the value of the ``forgetting_events`` column, so that
    sorting by it follows the paper.
    """
    rank_never_learned = check_bool(rank_never_learned, "rank_never_learned")
    correct = check_correct_per_epoch(correct_per_epoch)
    forgotten = (correct[:-1] & ~correct[1:]).sum(axis=0).astype(np.int64)
    never = ~correct.any(axis=0)
    if rank_never_learned:
        forgotten[never] = correct.shape[0]
    return forgotten, never


def first_learned(correct_per_epoch: Any) -> np.ndarray:
    """The first epoch at which the instance is predicted correctly (its first learning event, Toneva et al., ICLR
    2019); E when it never is."""
    correct = check_correct_per_epoch(correct_per_epoch)
    return np.where(correct.any(axis=0), correct.argmax(axis=0), correct.shape[0]).astype(np.int64)


def first_forgotten(correct_per_epoch: Any) -> np.ndarray:
    """The first epoch e >= 1 whose record is wrong after a correct record at e - 1 (the first forgetting event,
    Toneva et al., ICLR 2019); E when the instance is never forgotten, and 0 when it is never learned: the paper
    ranks never-learned instances as the most forgettable, and 0 puts them first under "hard = low"."""
    correct = check_correct_per_epoch(correct_per_epoch)
    events = correct[:-1] & ~correct[1:]  # events[e - 1]: forgotten at epoch e
    first = np.where(events.any(axis=0), events.argmax(axis=0) + 1, correct.shape[0])
    return np.where(correct.any(axis=0), first, 0).astype(np.int64)


def unforgettable(correct_per_epoch: Any) -> np.ndarray:
    """Learned at some epoch and never forgotten afterwards (the "unforgettable examples" of Toneva et al., ICLR
    2019); never-learned instances are not unforgettable."""
    correct = check_correct_per_epoch(correct_per_epoch)
    return correct.any(axis=0) & ~(correct[:-1] & ~correct[1:]).any(axis=0)


def iteration_learned(correct_per_epoch: Any) -> tuple[np.ndarray, np.ndarray]:
    """(first epoch from which the instance stays correct, undefined flag); undefined -> E."""
    correct = check_correct_per_epoch(correct_per_epoch)
    stays = np.logical_and.accumulate(correct[::-1], axis=0)[::-1]  # stays[e]: correct from e to the end
    learned = correct.shape[0] - stays.sum(axis=0)
    return learned.astype(np.int64), ~correct[-1]


def area_under_margin(logits_per_epoch: Any, labels: Any) -> np.ndarray:
    """Mean over epochs of z_y - max_{c != y} z_c."""
    z = check_per_epoch(logits_per_epoch, "logits_per_epoch", 3).astype(np.float64)
    y = check_labels(labels, n=z.shape[1], n_classes=z.shape[2])
    return true_class_margin(z, y[None, :]).mean(axis=0)


def threshold_sample_labels(
    labels: Any, n_classes: int, seed: int = 0, fraction: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(training labels, threshold-sample mask): a random subset of the instances relabelled to a fake extra class.

    Pleiss, Zhang, Elenberg, Weinberger, "Identifying mislabeled data using the area under the margin ranking",
    NeurIPS 2020, section 3: N / (C + 1) instances (``N // (C + 1)``; ``round(fraction * N)`` when ``fraction``
    is given), drawn uniformly without replacement by ``numpy.random.default_rng(seed)``, get the label C, a class
    that does not exist. Such "threshold samples" are mislabelled by construction, so their AUM tells what the AUM
    of a mislabelled instance looks like. The model must have C + 1 outputs and be trained on the returned labels.

    ``labels`` : (N,) given labels in ``[0, n_classes)``. Returns int64 (N,) labels in ``[0, n_classes]`` and a
    boolean (N,) mask of the threshold samples.
    """
    seed = check_seed(seed, "seed")
    n_classes = check_positive_int(n_classes, "n_classes")
    y = check_labels(labels, n_classes=n_classes)
    n = len(y)
    if fraction is None:
        m = n // (n_classes + 1)
    else:
        m = round(check_real(fraction, "fraction", low=0.0, high=1.0, low_open=True, high_open=True) * n)
    if m < 1:
        raise ValueError(f"{n} instances give no threshold sample (N / (C + 1) < 1 with C = {n_classes})")
    mask = np.zeros(n, dtype=bool)
    mask[np.random.default_rng(seed).choice(n, size=m, replace=False)] = True
    relabelled = y.copy()
    relabelled[mask] = n_classes
    return relabelled, mask


def aum_threshold(aum_values_of_threshold_samples: Any, percentile: float = 99) -> float:
    """The ``percentile``-th percentile (linear interpolation, ``numpy.percentile``) of the threshold samples' AUM.

    Pleiss et al. (NeurIPS 2020, section 3) take the 99th percentile: an instance whose AUM is below it has a
    margin lower than 99% of the deliberately mislabelled threshold samples, and is flagged as mislabelled
    (:func:`aum_mislabelled`)."""
    values = check_real_array(aum_values_of_threshold_samples, "aum_values_of_threshold_samples").ravel()
    if values.size == 0:
        raise ValueError("aum_values_of_threshold_samples is empty: there are no threshold samples")
    if not np.isfinite(values).all():
        raise ValueError("aum_values_of_threshold_samples contains NaN or infinite values")
    percentile = check_real(percentile, "percentile", low=0.0, high=100.0)
    return float(np.percentile(values, percentile))


def aum_mislabelled(aum: Any, threshold: float, threshold_mask: Any = None) -> np.ndarray:
    """Boolean (N,): AUM strictly below ``threshold``; threshold samples (``threshold_mask``) are never flagged.

    A threshold sample was relabelled on purpose, so the flag says nothing about its given label; Pleiss et al.
    (NeurIPS 2020, section 3) train a second time with another set of threshold samples to judge those."""
    values = check_real_array(aum, "aum")
    if values.ndim != 1:
        raise ValueError(f"aum must be a 1-D array (one value per instance), got shape {values.shape}")
    if np.isnan(values).any():
        raise ValueError(
            f"aum contains {int(np.isnan(values).sum())} NaN value(s): a NaN is neither below nor above the threshold"
        )
    flag = values < check_real(threshold, "threshold")
    if threshold_mask is not None:
        mask = to_numpy(threshold_mask)
        if mask.dtype != bool or mask.shape != values.shape:
            raise ValueError(f"threshold_mask must be a boolean array of shape {values.shape}, got {mask.shape}")
        flag &= ~mask
    return flag


def calibrated_aum_threshold(logits_per_epoch: Any, labels: Any, n_errors: int | None = None) -> float:
    """An AUM threshold for a run trained without threshold samples: the one that flags as many instances as there
    are estimated label errors.

    ``n_errors`` defaults to the confident-learning estimate (Northcutt, Jiang, Chuang, JAIR 2021) from the mean
    softmax over the records (:func:`~difficulty_widget.measures.label_issues.estimated_label_errors` summed over
    the classes). The threshold is the midpoint between the ``n_errors``-th and the next lowest AUM, so that
    ``aum < threshold`` flags the ``n_errors`` lowest (fewer on ties); with ``n_errors = 0`` it is below every AUM.

    Why this choice: the fake-class threshold measures where a mislabelled instance's AUM lies; without it, the
    ranking by AUM is still good (Pleiss et al., figure 3) and what is missing is only the cut-off, i.e. how many
    to flag. The confident joint estimates that count from the same run. Measured on Fashion-MNIST with 5% flipped
    labels (2,974 flips, 3-epoch small CNN): 3,137 flagged, precision 0.87, recall 0.91, where a fixed AUM < 0 flags
    8,160 (precision 0.36, recall 0.99) and the exact count would give 0.90 / 0.90.
    """
    from .label_issues import estimated_label_errors, mean_softmax

    z, y, _ = _log_probs(logits_per_epoch, labels)
    aum = true_class_margin(z, y[None, :]).mean(axis=0)
    if n_errors is None:
        n_errors = int(np.rint(estimated_label_errors(y, mean_softmax(z)).sum()))
    elif isinstance(n_errors, bool) or not isinstance(n_errors, (int, np.integer)) or n_errors < 0:
        raise ValueError(f"n_errors must be a non-negative integer, got {n_errors!r}")
    ranked = np.sort(aum)
    m = min(int(n_errors), len(ranked))
    if m == 0:
        return float(np.nextafter(ranked[0], -np.inf))
    if m == len(ranked):
        return float(np.nextafter(ranked[-1], np.inf))
    return float((ranked[m - 1] + ranked[m]) / 2.0) if ranked[m] > ranked[m - 1] else float(ranked[m - 1])


def mean_loss(logits_per_epoch: Any, labels: Any) -> np.ndarray:
    """Mean over epochs of the cross-entropy -log p_y^(e), from the log-softmax (no overflow, no log of 0)."""
    _, y, log_p = _log_probs(logits_per_epoch, labels)
    return -np.take_along_axis(log_p, y[None, :, None], axis=2)[..., 0].mean(axis=0)


def default_early_epochs(n_epochs: int) -> int:
    """The first tenth of training, rounded up (at least 1): ``ceil(E / 10)``.

    Paul, Ganguli, Dziugaite (NeurIPS 2021) score CIFAR-10 after 20 of 200 epochs, a tenth of training;
    averaging the records up to that point keeps the early-training view with one run instead of ten."""
    return max(1, -(-int(n_epochs) // 10))


def el2n_early(logits_per_epoch: Any, labels: Any, *, early_epochs: int | None = None) -> np.ndarray:
    """EL2N ||p^(e) - e_y||_2 averaged over the first ``early_epochs`` records (default
    :func:`default_early_epochs`, the first tenth of training).

    Paul, Ganguli, Dziugaite, "Deep learning on a data diet", NeurIPS 2021: the EL2N score early in
    training, E ||p(w_t, x) - y||_2, whose expectation the paper takes over ten training runs at one early epoch t;
    with one recorded run, the mean over the early epochs stands in for it.
    """
    _, y, log_p = _log_probs(logits_per_epoch, labels)
    return _el2n_early(log_p, y, early_epochs)


def _el2n_early(log_p: np.ndarray, y: np.ndarray, early_epochs: int | None) -> np.ndarray:
    n_epochs = log_p.shape[0]
    k = default_early_epochs(n_epochs) if early_epochs is None else early_epochs
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= n_epochs:
        raise ValueError(f"early_epochs must be an integer in [1, {n_epochs}] (the recorded epochs), got {k!r}")
    return el2n_from_probs(np.exp(log_p[:k]), y[None, :]).mean(axis=0)


def data_iq(
    logits_per_epoch: Any,
    labels: Any,
    *,
    confidence_thresholds: tuple[float, float] = (0.25, 0.75),
    aleatoric_percentile: float = 50.0,
) -> pd.DataFrame:
    """Data-IQ per instance (Seedat, Crabbe, Bica, van der Schaar, NeurIPS 2022): over the E records,
    with P_e = p_y^(e) the probability of the given label,

    - ``diq_confidence`` = mean_e P_e,
    - ``diq_aleatoric`` = mean_e P_e (1 - P_e) (aleatoric uncertainty, in [0, 1/4]),
    - ``diq_epistemic`` = mean_e (P_e - mean P)^2 (epistemic variability; ``dm_variability`` squared),
    - ``diq_region``: ``hard`` when confidence <= 0.25 and aleatoric <= its median over the instances given,
      ``easy`` when confidence >= 0.75 and aleatoric <= that median, ``ambiguous`` otherwise: the thresholds of
      the authors' code and tutorials (``conf_thresh_low = 0.25``, ``conf_thresh_high = 0.75``,
      ``percentile_thresh = 50``), set by ``confidence_thresholds`` and ``aleatoric_percentile``.
    """
    _, true_prob, _ = _true_probs_and_correct(logits_per_epoch, labels)
    return _data_iq(true_prob, confidence_thresholds, aleatoric_percentile)


def _data_iq(
    true_prob: np.ndarray,
    confidence_thresholds: tuple[float, float] = (0.25, 0.75),
    aleatoric_percentile: float = 50.0,
) -> pd.DataFrame:
    pair = not isinstance(confidence_thresholds, (str, bytes)) and hasattr(confidence_thresholds, "__len__")
    if not pair or len(confidence_thresholds) != 2:
        raise ValueError(f"confidence_thresholds must be a pair (low, high), got {confidence_thresholds!r}")
    low, high = (check_real(t, "confidence_thresholds", low=0.0, high=1.0) for t in confidence_thresholds)
    if not low <= high:
        raise ValueError(f"confidence_thresholds must be (low, high) with 0 <= low <= high <= 1, got {(low, high)}")
    aleatoric_percentile = check_real(aleatoric_percentile, "aleatoric_percentile", low=0.0, high=100.0)
    confidence = true_prob.mean(axis=0)
    aleatoric = (true_prob * (1.0 - true_prob)).mean(axis=0)
    steady = aleatoric <= np.percentile(aleatoric, aleatoric_percentile)
    codes = np.where(steady & (confidence >= high), 0, np.where(steady & (confidence <= low), 2, 1))
    return pd.DataFrame(
        {
            "diq_confidence": confidence,
            "diq_aleatoric": aleatoric,
            "diq_epistemic": true_prob.var(axis=0),
            "diq_region": pd.Categorical.from_codes(codes, categories=list(DATA_IQ_REGIONS), ordered=True),
        }
    )


DYNAMICS_COLUMNS = (
    "dm_confidence", "dm_variability", "dm_correctness", "dm_region", "forgetting_events", "never_learned", "aum",
    "iteration_learned", "learned_undefined", "mean_loss", "el2n_early", "first_learned", "first_forgotten",
    "unforgettable", "diq_aleatoric", "diq_region",
)  # fmt: skip


def dynamics_scores(logits_per_epoch: Any, labels: Any, support_mask: Any = None) -> pd.DataFrame:
    """Registry adapter: every training-dynamics column (``DYNAMICS_COLUMNS``) from the per-epoch logits.

    ``logits_per_epoch`` covers the training rows, in order: every row, or the rows of ``support_mask`` when a
    table also holds other rows (which then get missing values). Data-IQ's aleatoric median is taken over the
    training rows.
    """
    rows = SupportRows.from_mask(support_mask, len(labels))
    y = check_labels(labels)[rows.support]
    z, y, log_p = _log_probs(logits_per_epoch, y)  # one validation, one softmax pass
    log_true = np.take_along_axis(log_p, y[None, :, None], axis=2)[..., 0]
    true_prob = np.exp(log_true)
    correct = z.argmax(axis=2) == y[None, :]
    frame = _data_map(true_prob, correct)  # relative thresholds: about a third of the rows per region
    frame["forgetting_events"], frame["never_learned"] = forgetting_events(correct, rank_never_learned=True)
    frame["aum"] = true_class_margin(z, y[None, :]).mean(axis=0)
    frame["iteration_learned"], frame["learned_undefined"] = iteration_learned(correct)
    frame["mean_loss"] = -log_true.mean(axis=0)
    frame["el2n_early"] = _el2n_early(log_p, y, None)
    frame["first_learned"] = first_learned(correct)
    frame["first_forgotten"] = first_forgotten(correct)
    frame["unforgettable"] = unforgettable(correct)
    iq = _data_iq(true_prob)
    frame["diq_aleatoric"], frame["diq_region"] = iq["diq_aleatoric"], iq["diq_region"]
    return expand(frame[list(DYNAMICS_COLUMNS)], rows.support, rows.n)


_IN = ("logits_per_epoch", "labels")
_OPTIONAL = ("support_mask",)
_TONEVA = "Toneva et al., ICLR 2019."
_DIQ = "Seedat, Crabbe, Bica, van der Schaar, NeurIPS 2022 (Data-IQ)."
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
    Measure("forgetting_events", "dynamics", _IN, "hard = high", "{0, ..., E // 2} or E",
            "Correct -> incorrect transitions between consecutive epochs; E when never learned (most forgettable).",
            _TONEVA, dynamics_scores, _OPTIONAL),
    Measure("aum", "dynamics", _IN, "hard = low", "(-inf, inf)",
            "Area under the margin: mean over epochs of z_y - max_{c != y} z_c.", "Pleiss et al., NeurIPS 2020.",
            dynamics_scores, _OPTIONAL),
    Measure("iteration_learned", "dynamics", _IN, "hard = high", "{0, ..., E}",
            "First epoch from which the prediction stays correct (E when the last epoch is wrong).",
            "Baldock, Maennel, Neyshabur, NeurIPS 2021.", dynamics_scores, _OPTIONAL),
    Measure("mean_loss", "dynamics", _IN, "hard = high", "[0, inf)",
            "Mean over epochs of the cross-entropy -log p_y.", "Mean training loss per instance.",
            dynamics_scores, _OPTIONAL),
    Measure("el2n_early", "dynamics", _IN, "hard = high", "[0, sqrt(2)]",
            "EL2N ‖p - e_y‖ averaged over the first ceil(E / 10) epochs.",
            "Paul, Ganguli, Dziugaite, NeurIPS 2021 (EL2N early in training).", dynamics_scores, _OPTIONAL),
    Measure("first_learned", "dynamics", _IN, "hard = high", "{0, ..., E}",
            "First epoch at which the prediction is correct (E when never).", _TONEVA, dynamics_scores, _OPTIONAL),
    Measure("first_forgotten", "dynamics", _IN, "hard = low", "{0, ..., E}",
            "First epoch of a correct -> incorrect transition; E when never forgotten, 0 when never learned.",
            _TONEVA, dynamics_scores, _OPTIONAL),
    Measure("unforgettable", "dynamics", _IN, "hard = low", "{False, True}",
            "Learned at some epoch and never forgotten.", _TONEVA, dynamics_scores, _OPTIONAL),
    Measure("diq_aleatoric", "dynamics", _IN, "hard = high", "[0, 0.25]",
            "Aleatoric uncertainty: mean over epochs of p_y (1 - p_y).", _DIQ, dynamics_scores, _OPTIONAL),
    Measure("diq_region", "dynamics", _IN, "hard = high", "{easy, ambiguous, hard}",
            "Easy: mean p_y >= 0.75, hard: <= 0.25, each with aleatoric <= its median; ambiguous: the rest.",
            _DIQ, dynamics_scores, _OPTIONAL),
):  # fmt: skip
    register(_measure)
