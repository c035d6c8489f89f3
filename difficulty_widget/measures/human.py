"""Human perspective: how people labelled each instance, and whether models find the same instances hard.

Input: a label-count matrix H (N x C), H[n, c] = how many annotators chose class c for instance n (CIFAR-10H:
Peterson, Battleday, Griffiths, Russakovsky, "Human uncertainty makes classification more robust", ICCV 2019),
or the same rows normalised to probabilities. With p_n = H_n / sum_c H_nc (DESIGN.md section 3):

- ``human_agreement`` = p_{n, y_n}: the share of annotators who chose the given label y_n (or, without labels,
  the majority label);
- ``human_majority`` = argmax_c H_nc, ties to the lower class index;
- ``human_entropy`` = -sum_c p_nc log p_nc (natural log, 0 log 0 = 0): 0 exactly when all annotators agree;
- ``human_ambiguity`` = 1 - max_c p_nc: the share of annotators who did not choose the majority class.

Model-human comparison:

- ``model_human_alignment``: Spearman's rank correlation (Spearman, "The proof and measurement of association
  between two things", Am. J. Psychol. 1904) between a model difficulty score and a human difficulty score,
  overall and per class, with seeded bootstrap percentile intervals (Efron & Tibshirani 1993, ch. 13);
- ``difficulty_quadrants``: easy / hard for the model x easy / hard for humans, with thresholds the user sets.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._validation import (
    check_instances_by_classes,
    check_labels,
    check_names,
    check_positive_int,
    check_seed,
    to_numpy,
)
from .registry import Measure, register

QUADRANTS = ("easy for both", "hard for model only", "hard for humans only", "hard for both")
HUMAN_SCORE_COLUMNS = ("human_agreement", "human_majority", "human_entropy", "human_ambiguity")

# Tolerance on row sums for a matrix of probabilities (float32 rows sum to 1 within ~1e-7).
_PROB_TOLERANCE = 1e-6
# Values per chunk of bootstrap resamples (rank temporaries of a few 10 MB).
_CHUNK_VALUES = 2**21


# ---------------------------------------------------------------------------------------------- validation
def check_counts(counts: Any, name: str = "counts") -> tuple[np.ndarray, bool]:
    """Return (``counts`` as a float64 (N, C) array, whether it holds counts rather than probabilities).

    Integer (or boolean) arrays are counts. Float arrays whose rows all sum to 1 are probabilities; other float
    arrays must hold whole numbers (counts stored as floats). Negative values, NaN/inf, rows with no
    annotations and fractions that are not probabilities raise ``ValueError`` naming ``name``.
    """
    arr = check_instances_by_classes(counts, name)
    if arr.dtype == bool:
        arr = arr.astype(np.int64)
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ValueError(f"{name} must be numeric (label counts or probabilities), got dtype {arr.dtype}")
    is_int = np.issubdtype(arr.dtype, np.integer)
    values = arr.astype(np.float64)
    if not np.isfinite(values).all():
        bad = int((~np.isfinite(values)).any(axis=1).sum())
        raise ValueError(f"{name} contains NaN or infinite values in {bad} row(s); expected finite numbers")
    negative = (values < 0).any(axis=1)
    if negative.any():
        raise ValueError(
            f"{name} contains negative values in {int(negative.sum())} row(s) (first: row "
            f"{int(np.argmax(negative))}); expected non-negative counts or probabilities"
        )
    if (values > 2.0**53).any():  # no annotation count is that large, and float64 stops counting exactly there
        raise ValueError(
            f"{name} holds values above 2**53 (largest {values.max():.3g}); expected annotation counts or probabilities"
        )
    totals = values.sum(axis=1)
    empty = totals == 0
    if empty.any():
        raise ValueError(
            f"{name} has {int(empty.sum())} row(s) with no annotations (all zero; first: row "
            f"{int(np.argmax(empty))}); every instance needs at least one label"
        )
    if is_int:
        return values, True
    off = np.abs(totals - 1.0) > _PROB_TOLERANCE
    if not off.any():
        return values, False
    if np.array_equal(values, np.round(values)):
        return values, True
    first = int(np.argmax(off))
    raise ValueError(
        f"{name} holds fractions but {int(off.sum())} row(s) do not sum to 1 (row {first} sums to "
        f"{totals[first]:.6g}); expected non-negative whole-number counts or probabilities whose rows sum to 1"
    )


MAX_RESAMPLES = 1_000_000
"""The most bootstrap resamples or shuffles one call may ask for."""


def _check_scores(values: Any, name: str, n: int | None = None) -> np.ndarray:
    arr = to_numpy(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array with one score per instance, got shape {arr.shape}")
    if n is not None and arr.shape[0] != n:
        raise ValueError(f"{name} has length {arr.shape[0]}, expected {n} (one score per instance)")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty: expected at least one score")
    if np.issubdtype(arr.dtype, np.complexfloating) or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ValueError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains {int((~np.isfinite(arr)).sum())} NaN or infinite value(s)")
    return arr


def _check_threshold(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number or None, got {value!r}")
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return float(value)


# ---------------------------------------------------------------------------------------------- human scores
def human_scores(counts: Any, labels: Any = None) -> pd.DataFrame:
    """Per-instance human-perspective scores from a label-count (or label-probability) matrix.

    With p_n = H_n / sum_c H_nc (Peterson et al., ICCV 2019; DESIGN.md section 3, "Human perspective"):
    ``human_agreement`` = p_{n, y_n} (the majority label when ``labels`` is None, i.e. max_c p_nc),
    ``human_majority`` = argmax_c H_nc (ties to the lower class index), ``human_entropy`` =
    -sum_c p_nc log p_nc (natural log, 0 log 0 = 0), ``human_ambiguity`` = 1 - max_c p_nc.

    Parameters
    ----------
    counts : array-like, shape (N, C)
        Non-negative integer label counts (every row at least one annotation), or probabilities whose rows sum
        to 1 (then only quantities that do not need the number of annotators are returned).
    labels : optional array-like of int, shape (N,)
        Given labels in ``[0, C)``, for ``human_agreement``.

    Returns
    -------
    pandas.DataFrame with N rows: ``human_agreement``, ``human_majority`` (int64), ``human_entropy``,
    ``human_ambiguity`` (float64) and, for counts only, ``human_n_annotators`` (int64, sum_c H_nc).
    """
    h, is_counts = check_counts(counts)
    n, n_classes = h.shape
    totals = h.sum(axis=1)
    p = h / totals[:, None]  # no overflow: check_counts refuses values above 2**53
    majority = h.argmax(axis=1)
    top = p[np.arange(n), majority]
    if labels is None:
        agreement = top
    else:
        y = check_labels(labels, n=n, n_classes=n_classes)
        agreement = p[np.arange(n), y]
    plogp = p * np.log(np.where(p > 0, p, 1.0))  # 0 log 0 = 0: log(1) where p = 0
    entropy = np.clip(-plogp.sum(axis=1), 0.0, np.log(n_classes)) + 0.0  # + 0.0 turns -0.0 into 0.0
    frame = pd.DataFrame(
        {
            "human_agreement": agreement,
            "human_majority": majority.astype(np.int64),
            "human_entropy": entropy,
            "human_ambiguity": 1.0 - top,
        }
    )
    if is_counts:
        frame["human_n_annotators"] = np.rint(totals).astype(np.int64)
    return frame


# ---------------------------------------------------------------------------------------------- alignment
def resampled_ranks(codes: np.ndarray, n_unique: int, idx: np.ndarray) -> np.ndarray:
    """Average ranks (1-based, ties share their mean rank, as ``scipy.stats.rankdata``) within each row of a
    bootstrap resample, without sorting.

    ``codes`` are the dense ranks 0..n_unique-1 of the original values (``np.unique(x, return_inverse=True)``)
    and ``idx`` (B, n) the resampled positions. A resampled value's rank is the number of resampled values below
    it plus (its multiplicity + 1) / 2, from per-row counts of each distinct value: O(B (n + n_unique)).
    """
    b = idx.shape[0]
    resampled = codes[idx]
    flat = (np.arange(b, dtype=np.int64)[:, None] * n_unique + resampled).ravel()
    counts = np.bincount(flat, minlength=b * n_unique).reshape(b, n_unique)
    below = np.cumsum(counts, axis=1) - counts
    average = below + (counts + 1) / 2.0
    return np.take_along_axis(average, resampled, axis=1)


def _row_pearson(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson correlation of matching rows; NaN where a row is constant."""
    x = x - x.mean(axis=1, keepdims=True)
    y = y - y.mean(axis=1, keepdims=True)
    denominator = np.sqrt((x * x).sum(axis=1) * (y * y).sum(axis=1))
    out = np.full(len(x), np.nan)
    np.divide((x * y).sum(axis=1), denominator, out=out, where=denominator > 0)
    return np.clip(out, -1.0, 1.0)


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    from scipy.stats import spearmanr

    if len(x) < 2:
        return np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant input: scipy warns and returns NaN, which we report
        return float(spearmanr(x, y).statistic)


def _bootstrap_spearman(
    x: np.ndarray, y: np.ndarray, n_boot: int, level: float, rng: np.random.Generator
) -> tuple[float, float]:
    n = len(x)
    if n < 2:
        return np.nan, np.nan
    x_unique, x_codes = np.unique(x, return_inverse=True)
    y_unique, y_codes = np.unique(y, return_inverse=True)
    step = max(1, _CHUNK_VALUES // max(n, len(x_unique), len(y_unique)))
    rhos = []
    for start in range(0, n_boot, step):  # chunks of resamples, each chunk one array operation
        idx = rng.integers(0, n, size=(min(step, n_boot - start), n))
        x_ranks = resampled_ranks(x_codes, len(x_unique), idx)
        y_ranks = resampled_ranks(y_codes, len(y_unique), idx)
        rhos.append(_row_pearson(x_ranks, y_ranks))
    values = np.concatenate(rhos)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return np.nan, np.nan
    low, high = np.quantile(values, [(1.0 - level) / 2.0, (1.0 + level) / 2.0])
    return float(low), float(high)


def model_human_alignment(
    model_score: Any,
    human_score: Any,
    labels: Any = None,
    n_boot: int = 1000,
    seed: int = 0,
    *,
    level: float = 0.95,
    class_names: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Spearman rank correlation between a model difficulty score and a human one, overall and per class.

    rho = the Pearson correlation of the two scores' ranks (average ranks for ties; Spearman 1904), from
    ``scipy.stats.spearmanr``. Orient both scores the same way, e.g. ``loss`` and ``-human_agreement`` (both
    harder = higher); otherwise a perfect alignment shows as rho = -1. The intervals are percentile bootstrap
    intervals (Efron & Tibshirani 1993, ch. 13): instances are resampled with replacement within each group,
    ``n_boot`` times, from a generator seeded by ``seed`` (one independent stream per row, so the overall row
    does not depend on whether ``labels`` are given). Resamples with a constant score are left out.

    Parameters
    ----------
    model_score, human_score : array-like of float, shape (N,)
    labels : optional array-like of int, shape (N,): adds one row per class present.
    n_boot : number of bootstrap resamples per row.
    seed : seed of the bootstrap (same seed, same intervals).
    level : coverage of the intervals, in (0, 1).
    class_names : optional names for the class rows' ``group`` (default: the class index as text).

    Returns
    -------
    pandas.DataFrame with one row for ``all`` instances, then one per class: ``group`` ("all" or the class
    name), ``label`` (nullable Int64; <NA> for "all"), ``n``, ``spearman``, ``ci_low``, ``ci_high``. Rows with
    fewer than 2 instances or a constant score have NaN correlation and interval.
    """
    seed = check_seed(seed, "seed")
    x = _check_scores(model_score, "model_score")
    y = _check_scores(human_score, "human_score", n=len(x))
    n_boot = check_positive_int(n_boot, "n_boot")
    if n_boot > MAX_RESAMPLES:  # each resample is a pass over the data: 10**12 would run for days
        raise ValueError(f"n_boot must be at most {MAX_RESAMPLES:,}, got {n_boot:,}")
    if isinstance(level, bool) or not isinstance(level, (int, float, np.floating)) or not 0.0 < level < 1.0:
        raise ValueError(f"level must be a number strictly between 0 and 1, got {level!r}")
    if class_names is not None:
        class_names = check_names(class_names, "class_names")
    groups: list[tuple[str, int | None, np.ndarray]] = [("all", None, np.arange(len(x)))]
    if labels is not None:
        n_classes = None if class_names is None else len(class_names)
        lab = check_labels(labels, n=len(x), n_classes=n_classes)
        for c in np.unique(lab):
            name = str(class_names[c]) if class_names is not None else str(c)
            groups.append((name, int(c), np.flatnonzero(lab == c)))
    streams = np.random.SeedSequence(seed).spawn(len(groups))
    rows = []
    for (name, label, rows_of), stream in zip(groups, streams, strict=True):
        xs, ys = x[rows_of], y[rows_of]
        rho = _spearman(xs, ys)
        low, high = (
            (np.nan, np.nan)
            if np.isnan(rho)
            else _bootstrap_spearman(xs, ys, n_boot, level, np.random.default_rng(stream))
        )
        rows.append({"group": name, "label": label, "n": len(rows_of), "spearman": rho, "ci_low": low, "ci_high": high})
    frame = pd.DataFrame(rows)
    frame["label"] = frame["label"].astype("Int64")
    frame["n"] = frame["n"].astype(np.int64)
    return frame


def difficulty_quadrants(
    model_hard: Any,
    human_hard: Any,
    model_threshold: float | None = None,
    human_threshold: float | None = None,
) -> pd.Series:
    """Easy / hard for the model x easy / hard for humans, one category per instance (DESIGN.md section 3).

    Both scores must be oriented *harder = higher* (flip the sign of a "hard = low" score such as
    ``confidence`` or ``human_agreement`` first, or use ``1 - human_agreement``). An instance is hard for the
    model when ``model_hard > model_threshold`` and hard for humans when ``human_hard > human_threshold``
    (strictly above: ties at the threshold count as easy). Each threshold defaults to the median of its
    score, so that about half the instances are hard for each (fewer when many values tie at the median,
    as with human agreement, where most images are unanimous).

    Returns
    -------
    pandas.Series named ``quadrant``: a categorical with categories "easy for both", "hard for model only",
    "hard for humans only", "hard for both" (in that order); the thresholds used are in
    ``series.attrs["model_threshold"]`` and ``series.attrs["human_threshold"]``.
    """
    m = _check_scores(model_hard, "model_hard")
    h = _check_scores(human_hard, "human_hard", n=len(m))
    mt = float(np.median(m)) if model_threshold is None else _check_threshold(model_threshold, "model_threshold")
    ht = float(np.median(h)) if human_threshold is None else _check_threshold(human_threshold, "human_threshold")
    codes = (m > mt).astype(np.int8) + 2 * (h > ht).astype(np.int8)  # 0 easy, 1 model, 2 humans, 3 both
    series = pd.Series(pd.Categorical.from_codes(codes, categories=list(QUADRANTS)), name="quadrant")
    series.attrs.update(model_threshold=mt, human_threshold=ht)
    return series


# ---------------------------------------------------------------------------------------------- registry
def human_count_scores(human_counts: Any) -> pd.DataFrame:
    """Registry adapter: ``human_majority``, ``human_entropy``, ``human_ambiguity`` (no labels needed)."""
    return human_scores(human_counts)[["human_majority", "human_entropy", "human_ambiguity"]]


def human_label_scores(human_counts: Any, labels: Any) -> pd.DataFrame:
    """Registry adapter: ``human_agreement`` with the given labels."""
    return human_scores(human_counts, labels)[["human_agreement"]]


_REFERENCE = "Peterson, Battleday, Griffiths, Russakovsky, ICCV 2019 (CIFAR-10H)."
for _measure in (
    Measure(
        name="human_agreement",
        perspective="human",
        inputs=("human_counts", "labels"),
        direction="hard = low",
        range="[0, 1]",
        description="Share of annotators who chose the given label, H_y / sum_c H_c.",
        reference=_REFERENCE,
        compute=human_label_scores,
    ),
    Measure(
        name="human_entropy",
        perspective="human",
        inputs=("human_counts",),
        direction="hard = high",
        range="[0, log C]",
        description="Entropy of the annotators' label distribution H / sum H, natural log; 0 = unanimous.",
        reference=_REFERENCE,
        compute=human_count_scores,
    ),
    Measure(
        name="human_ambiguity",
        perspective="human",
        inputs=("human_counts",),
        direction="hard = high",
        range="[0, 1 - 1/C]",
        description="Share of annotators who did not choose the majority class, 1 - max_c H_c / sum_c H_c.",
        reference=_REFERENCE,
        compute=human_count_scores,
    ),
):
    register(_measure)
