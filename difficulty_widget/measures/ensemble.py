"""Many models: which instances every model gets right, which none does, and how consistent the models' errors are.

Input: ``correct`` (M x N), one row per model, True where model m classifies instance n correctly.

- ``dichotomy``: trivial = correct under all M models, impossible = wrong under all, decisive = the rest, and the
  three shares (Meding, Buschoff, Geirhos, Wichmann, "Trivial or impossible -- dichotomous data difficulty masks
  model differences (on ImageNet and beyond)", ICLR 2022);
- ``error_consistency``: Cohen's kappa of two models' right/wrong vectors (Geirhos, Meding, Wichmann, "Beyond
  accuracy: quantifying trial-by-trial behaviour of CNNs and humans by measuring error consistency", NeurIPS
  2020): c_obs = share of instances where both are right or both wrong, c_exp = p1 p2 + (1 - p1)(1 - p2)
  with p_i the accuracies, kappa = (c_obs - c_exp) / (1 - c_exp);
- ``error_consistency_matrix`` / ``error_consistency_report``: the M x M matrix, on all instances and on the
  decisive ones only (Meding et al. 2022: trivial and impossible instances inflate the consistency
  of every pair, since on them all models agree by construction); the report sets each pair's kappa against a
  shuffle null (each model's vector permuted independently within the instances compared, which keeps the
  accuracies: its mean is 0, its spread is what chance gives) and, on decisive instances, against the selection
  null (independent models conditioned the same way, which is negative);
- ``kappa_bootstrap_ci``: a seeded percentile bootstrap interval for kappa over instances (as recommended by
  Klein, Meyen, Brendel, Wichmann, Meding, "Quantifying uncertainty in error consistency", arXiv 2507.06645, 2025).

Kappa is computed from the 2 x 2 table of counts, a = both right, b = only the first right, c = only the second
right, d = both wrong (N = a + b + c + d), in the algebraically identical form
kappa = 2 (a d - b c) / (k1 (N - k2) + k2 (N - k1)), with k1 = a + b and k2 = a + c the models' numbers of correct
instances; the counts are exact integers, so identical error patterns give exactly 1.

**The undefined case.** When both models are right on every instance, or both wrong on every instance,
c_exp = 1 and kappa is 0 / 0. We follow Geirhos' public implementation (``bethgelab/model-vs-human``,
``modelvshuman/plotting/analyses.py``, ``ErrorConsistency.error_consistency``), which returns 1 whenever
c_obs = 1: two models that make exactly the same errors -- here, none at all, or all of them -- are perfectly
consistent. This keeps the diagonal of every matrix at 1. Pass ``undefined=float("nan")`` to mark these pairs as
undefined instead (e.g. two models that never err on the decisive instances of a larger set).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from .._validation import check_non_negative_int, check_positive_int, check_seed, to_numpy
from .registry import Measure, register

DICHOTOMY_CATEGORIES = ("impossible", "decisive", "trivial")  # hardest first: the order of "hard = low"

# Columns per chunk so that the float64 copy of ``correct`` stays near 2**22 values (32 MB) whatever M is.
_CHUNK_VALUES = 2**22


# ---------------------------------------------------------------------------------------------- validation
def _check_binary(values: Any, name: str, ndim: int) -> np.ndarray:
    arr = to_numpy(values)
    shape = "(n_models, n_instances)" if ndim == 2 else "(n_instances,)"
    if arr.ndim != ndim:
        raise ValueError(f"{name} must have shape {shape}, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty: expected shape {shape} with at least one model and one instance")
    if arr.dtype == bool:
        return arr
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ValueError(f"{name} must be boolean (or 0/1 numbers), got dtype {arr.dtype}")
    bad = ~((arr == 0) | (arr == 1))
    if bad.any():
        example = arr[bad].flat[0]
        raise ValueError(
            f"{name} must hold only True/False or 0/1, got {int(bad.sum())} other value(s), e.g. {example}"
        )
    return arr.astype(bool)


MAX_RESAMPLES = 1_000_000
"""The most bootstrap resamples or shuffles one call may ask for."""


def check_correct(correct: Any, name: str = "correct") -> np.ndarray:
    """Return ``correct`` as a boolean (M, N) array: M models, N instances, True = classified correctly."""
    return _check_binary(correct, name, 2)


def _check_subset(subset: Any, n: int) -> np.ndarray:
    """Column positions from a boolean mask of length ``n`` or integer positions in ``[0, n)``."""
    arr = to_numpy(subset)
    if arr.ndim != 1:
        raise ValueError(f"subset must be a 1-D boolean mask or integer positions, got shape {arr.shape}")
    if arr.dtype == bool:
        if arr.shape[0] != n:
            raise ValueError(f"subset is a boolean mask of length {arr.shape[0]}, expected {n} (one per instance)")
        positions = np.flatnonzero(arr)
    elif np.issubdtype(arr.dtype, np.integer):
        positions = arr.astype(np.int64)
        if positions.size and (positions.min() < 0 or positions.max() >= n):
            raise ValueError(f"subset positions must lie in [0, {n}), got {positions.min()} to {positions.max()}")
    else:
        raise ValueError(f"subset must be a boolean mask or integer positions, got dtype {arr.dtype}")
    if positions.size == 0:
        raise ValueError("subset selects no instances; error consistency needs at least one")
    return positions


def _check_names(names: Any, m: int) -> list[str]:
    if names is None:
        return [f"model_{i}" for i in range(m)]
    if isinstance(names, (str, bytes)) or not hasattr(names, "__iter__"):
        raise TypeError(f"names must be a list of {m} model names, got {type(names).__name__} {names!r:.60}")
    out = [str(x) for x in names]
    if len(out) != m:
        raise ValueError(f"names has {len(out)} entries, expected one per model ({m})")
    if len(set(out)) != m:
        raise ValueError("names must be unique")
    return out


def _check_undefined(value: Any) -> float:
    """The kappa reported where it is undefined: a real number (NaN allowed, to mark such pairs), not a bool."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"undefined must be a real number (or NaN), got {value!r} ({type(value).__name__})")
    return float(value)


def _check_level(level: Any) -> float:
    if isinstance(level, bool) or not isinstance(level, (int, float, np.floating)) or not 0.0 < level < 1.0:
        raise ValueError(f"level must be a number strictly between 0 and 1, got {level!r}")
    return float(level)


# ---------------------------------------------------------------------------------------------- dichotomy
@dataclass(frozen=True)
class DichotomyResult:
    """Trivial / decisive / impossible instances of M models.

    Attributes
    ----------
    per_instance : DataFrame with N rows: ``n_models_correct`` (int64, 0..M) and ``dichotomy`` (ordered
        categorical impossible < decisive < trivial).
    summary : DataFrame indexed by impossible, decisive, trivial with ``count`` (int64) and ``share`` (float64).
    n_models : M.
    """

    per_instance: pd.DataFrame
    summary: pd.DataFrame
    n_models: int

    @property
    def decisive(self) -> np.ndarray:
        """Boolean mask of the decisive instances (right under some models, wrong under others)."""
        return (self.per_instance["dichotomy"] == "decisive").to_numpy()

    @property
    def shares(self) -> pd.Series:
        """Share of instances in each category (sums to 1)."""
        return self.summary["share"]


def dichotomy(correct: Any) -> DichotomyResult:
    """Trivial, decisive and impossible instances of M models (Meding et al., ICLR 2022).

    For each instance n, k_n = sum_m correct[m, n] models classify it correctly: it is *trivial* when k_n = M,
    *impossible* when k_n = 0 and *decisive* otherwise. With one model there are no decisive instances.

    Parameters
    ----------
    correct : array-like of bool (or 0/1 numbers), shape (M, N)
        One row per model, one column per instance, True where the model is right.

    Returns
    -------
    DichotomyResult with the per-instance table (``n_models_correct``, ``dichotomy``) and the summary of counts
    and shares.
    """
    right = check_correct(correct)
    m, n = right.shape
    k = right.sum(axis=0, dtype=np.int64)
    codes = np.where(k == m, 2, np.where(k == 0, 0, 1))  # positions in DICHOTOMY_CATEGORIES
    category = pd.Categorical.from_codes(codes, categories=list(DICHOTOMY_CATEGORIES), ordered=True)
    per_instance = pd.DataFrame({"n_models_correct": k, "dichotomy": category})
    counts = np.bincount(codes, minlength=3).astype(np.int64)
    summary = pd.DataFrame(
        {"count": counts, "share": counts / n}, index=pd.Index(list(DICHOTOMY_CATEGORIES), name="dichotomy")
    )
    return DichotomyResult(per_instance=per_instance, summary=summary, n_models=m)


# ---------------------------------------------------------------------------------------------- kappa
def _kappa_from_counts(
    both_right: np.ndarray, right_1: np.ndarray, right_2: np.ndarray, n: np.ndarray | int, undefined: float
) -> np.ndarray:
    """Cohen's kappa of two right/wrong vectors from a = both right, k1, k2 = each one's number right, N.

    kappa = 2 (a d - b c) / (k1 (N - k2) + k2 (N - k1)) with b = k1 - a, c = k2 - a, d = N - k1 - k2 + a; this is
    (c_obs - c_exp) / (1 - c_exp) of Geirhos et al. (NeurIPS 2020) multiplied through by N^2.
    """
    a = np.asarray(both_right, dtype=np.float64)
    k1 = np.asarray(right_1, dtype=np.float64)
    k2 = np.asarray(right_2, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    b, c = k1 - a, k2 - a
    d = n - k1 - k2 + a
    numerator = 2.0 * (a * d - b * c)
    denominator = k1 * (n - k2) + k2 * (n - k1)  # = N^2 (1 - c_exp); 0 only when both always right / always wrong
    out = np.full(np.broadcast(numerator, denominator).shape, undefined, dtype=np.float64)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def error_consistency(correct_a: Any, correct_b: Any, *, undefined: float = 1.0) -> float:
    """Error consistency (Cohen's kappa) of two models' right/wrong vectors (Geirhos et al., NeurIPS 2020).

    c_obs = (1/N) sum_n [a_n == b_n], c_exp = p_a p_b + (1 - p_a)(1 - p_b) with p the accuracies, and
    kappa = (c_obs - c_exp) / (1 - c_exp): 1 = the same errors, 0 = as many shared errors as independent models of
    these accuracies would make, negative = fewer.

    Parameters
    ----------
    correct_a, correct_b : array-like of bool (or 0/1), shape (N,)
        Whether each model is right on each instance (same instances, same order).
    undefined : value returned when c_exp = 1 (both models always right, or both always wrong), where kappa is
        0 / 0. Default 1.0, as in Geirhos' public code (c_obs = 1 -> kappa = 1); see the module docstring.

    Returns
    -------
    float in [-1, 1] (or ``undefined``).
    """
    a = _check_binary(correct_a, "correct_a", 1)
    b = _check_binary(correct_b, "correct_b", 1)
    if a.shape != b.shape:
        raise ValueError(f"correct_a has {a.shape[0]} instances but correct_b has {b.shape[0]}; expected the same")
    kappa = _kappa_from_counts(np.sum(a & b), np.sum(a), np.sum(b), a.shape[0], _check_undefined(undefined))
    return float(kappa)


def error_consistency_matrix(
    correct: Any, subset: Any = None, names: Any = None, *, undefined: float = 1.0
) -> pd.DataFrame:
    """Error consistency (Cohen's kappa) of every pair of M models, as an M x M DataFrame.

    Entry (i, j) is :func:`error_consistency` of rows i and j of ``correct`` (Geirhos et al., NeurIPS 2020,
    definitions above), computed for all pairs at once from the Gram matrix A A^T of the 0/1 matrix
    (both-right counts).
    The matrix is symmetric with 1 on the diagonal (also for a model that is always right or always wrong,
    under the default ``undefined=1.0``).

    Parameters
    ----------
    correct : array-like of bool (or 0/1), shape (M, N)
    subset : optional boolean mask (N,) or integer positions: compute on these instances only (e.g. the
        decisive ones, Meding et al., ICLR 2022).
    names : optional M model names for the index and columns (default ``model_0``, ``model_1``, ...).
    undefined : value for pairs with c_exp = 1 (see :func:`error_consistency`).
    """
    right = check_correct(correct)
    labels = _check_names(names, right.shape[0])
    if subset is not None:
        right = right[:, _check_subset(subset, right.shape[1])]
    return pd.DataFrame(_kappa_matrix(right, _check_undefined(undefined)), index=labels, columns=labels)


def _kappa_matrix(right: np.ndarray, undefined: float) -> np.ndarray:
    m, n = right.shape
    k = right.sum(axis=1, dtype=np.int64)
    both = np.zeros((m, m), dtype=np.float64)
    step = max(1, _CHUNK_VALUES // m)
    for start in range(0, n, step):  # chunks of instances, not single ones; exact: sums of 0/1 below 2**53
        block = right[:, start : start + step].astype(np.float64)
        both += block @ block.T
    return _kappa_from_counts(both, k[:, None], k[None, :], n, undefined)


@dataclass(frozen=True)
class ErrorConsistencyReport:
    """Error consistency of M models on all instances and on the decisive ones, each against a shuffle null.

    Attributes
    ----------
    all_instances : M x M kappa on all N instances.
    decisive : M x M kappa on the decisive instances (NaN everywhere when there are none).
    dichotomy : the trivial / decisive / impossible split the decisive matrix is based on.
    pairs : one row per model pair (i < j) and conditioning (``"all"``, then ``"decisive"``), with the columns
        ``conditioning``, ``model_a``, ``model_b``, ``n_instances``, ``kappa``, ``null_mean``, ``null_high`` (the
        ``level`` quantile of the null), ``p_value`` ((1 + #{null >= kappa}) / (1 + n_shuffles)),
        ``kappa_minus_null`` (= kappa - null_mean) and ``selection_null_mean`` (see
        :func:`error_consistency_report`). The null columns are NaN when ``n_shuffles`` is 0.
    n_shuffles : number of shuffles behind the null columns.
    level : the quantile reported as ``null_high``.
    """

    all_instances: pd.DataFrame
    decisive: pd.DataFrame
    dichotomy: DichotomyResult
    pairs: pd.DataFrame
    n_shuffles: int
    level: float

    def summary(self) -> pd.DataFrame:
        """Per conditioning: number of instances, mean / min / max off-diagonal kappa, and the pairs' mean null
        (``mean_null``), mean ``level`` quantile of the null (``mean_null_high``), mean kappa - null
        (``mean_kappa_minus_null``) and mean selection null (``mean_selection_null``)."""
        rows = {}
        for key, matrix, n in (
            ("all", self.all_instances, len(self.dichotomy.per_instance)),
            ("decisive", self.decisive, int(self.dichotomy.summary.loc["decisive", "count"])),
        ):
            values = matrix.to_numpy()
            off = values[~np.eye(len(values), dtype=bool)]
            finite = off[np.isfinite(off)]
            pairs = self.pairs[self.pairs["conditioning"] == key]
            rows[key] = {
                "n_instances": n,
                "mean_kappa": float(finite.mean()) if finite.size else np.nan,
                "min_kappa": float(finite.min()) if finite.size else np.nan,
                "max_kappa": float(finite.max()) if finite.size else np.nan,
                "mean_null": _nanmean(pairs["null_mean"]),
                "mean_null_high": _nanmean(pairs["null_high"]),
                "mean_kappa_minus_null": _nanmean(pairs["kappa_minus_null"]),
                "mean_selection_null": _nanmean(pairs["selection_null_mean"]),
            }
        return pd.DataFrame.from_dict(rows, orient="index")


def _nanmean(values: Any) -> float:
    arr = np.asarray(values, dtype=np.float64)
    arr = arr[np.isfinite(arr)]
    return float(arr.mean()) if arr.size else np.nan


PAIR_COLUMNS = (
    "conditioning",
    "model_a",
    "model_b",
    "n_instances",
    "kappa",
    "null_mean",
    "null_high",
    "p_value",
    "kappa_minus_null",
    "selection_null_mean",
)


def _shuffle(right: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each row permuted independently: row m is ``right[m][rng.permutation(N)]``, rows in order."""
    n = right.shape[1]
    return np.stack([row[rng.permutation(n)] for row in right])


def _decisive_kappa(right: np.ndarray, undefined: float) -> np.ndarray:
    """M x M kappa on the instances that are decisive in ``right`` itself (NaN when there are none)."""
    k = right.sum(axis=0)
    keep = (k > 0) & (k < right.shape[0])
    if not keep.any():
        return np.full((right.shape[0], right.shape[0]), np.nan)
    return _kappa_matrix(right[:, keep], undefined)


def error_consistency_report(
    correct: Any,
    names: Any = None,
    *,
    n_shuffles: int = 200,
    seed: int = 0,
    level: float = 0.95,
    undefined: float = 1.0,
) -> ErrorConsistencyReport:
    """Kappa of every model pair on all and on decisive instances, each against a shuffle null, in one call.

    Error consistency (Geirhos, Meding, Wichmann, NeurIPS 2020) of models i and j on a set S of n instances is
    kappa = (c_obs - c_exp) / (1 - c_exp) with c_obs the share of S where both are right or both wrong and
    c_exp = p_i p_j + (1 - p_i)(1 - p_j) from their accuracies on S. Trivial and impossible instances are ones
    on which all models agree, so they raise every pair's c_obs; Meding, Buschoff, Geirhos, Wichmann (ICLR 2022)
    therefore compare models on the decisive instances only. Two conditionings: S = all instances, and
    S = decisive instances (0 < k_n < M models right).

    **Shuffle null.** For each conditioning, each model's right/wrong vector is permuted independently within S
    (so each model's accuracy on S is kept and every dependence between models is removed), kappa is recomputed,
    and this is repeated ``n_shuffles`` times: ``null_mean``, ``null_high`` (its ``level`` quantile),
    ``p_value`` = (1 + #{null >= kappa}) / (1 + n_shuffles) (Phipson & Smyth 2010) and
    ``kappa_minus_null`` = kappa - null_mean. Under this null the number of instances both models get right is
    hypergeometric with mean k_i k_j / n, and kappa = 2 (a n - k_i k_j) / (k_i (n - k_j) + k_j (n - k_i)) is
    linear in it, so the null's *mean is exactly 0*: the shuffled mean shows only simulation noise; its
    spread (``null_high``) says how large a kappa chance alone gives at this n and these accuracies.

    **Selection null** (``selection_null_mean``, decisive rows): the vectors are shuffled over *all* instances and
    kappa is taken on the decisive instances *of the shuffled data*, i.e. what independent models of these
    accuracies give after the same conditioning. Conditioning on 0 < k_n < M removes the instances on which all
    agree, so it is negative (-2 b c / (b^2 + c^2), near -1, for two models). For the "all" rows it equals
    ``null_mean`` (the same shuffles).

    Parameters
    ----------
    correct : array-like of bool (or 0/1), shape (M, N)
    names : optional M model names (default ``model_0``, ``model_1``, ...).
    n_shuffles : shuffles per conditioning (0: no null, the null columns are NaN). Cost: 2 n_shuffles M
        permutations of N and as many M x M Gram matrices.
    seed : seed of the shuffles. Shuffle s permutes row m as ``row[rng.permutation(n)]``, rows in order, then
        shuffles in order, with ``rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(2)[c])``,
        c = 0 for all instances (and the selection null), c = 1 for the decisive instances.
    level : quantile of the null reported as ``null_high``, in (0, 1).
    undefined : kappa of a pair with c_exp = 1 (see :func:`error_consistency`).

    Returns
    -------
    ErrorConsistencyReport: the two M x M matrices, the dichotomy, the per-pair table ``pairs`` and ``summary()``.
    """
    seed = check_seed(seed, "seed")
    right = check_correct(correct)
    labels = _check_names(names, right.shape[0])
    n_shuffles = check_non_negative_int(n_shuffles, "n_shuffles")
    if n_shuffles > MAX_RESAMPLES:  # each resample is a pass over the data: 10**12 would run for days
        raise ValueError(f"n_shuffles must be at most {MAX_RESAMPLES:,}, got {n_shuffles:,}")
    level = _check_level(level)
    undefined = _check_undefined(undefined)
    split = dichotomy(right)
    decisive = split.decisive
    m = right.shape[0]
    all_matrix = _kappa_matrix(right, undefined)
    decisive_matrix = _kappa_matrix(right[:, decisive], undefined) if decisive.any() else np.full((m, m), np.nan)

    i, j = np.triu_indices(m, k=1)
    rng_all, rng_decisive = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    null_all = np.full((n_shuffles, i.size), np.nan)
    selection = np.full((n_shuffles, i.size), np.nan)
    null_decisive = np.full((n_shuffles, i.size), np.nan)
    for s in range(n_shuffles):
        shuffled = _shuffle(right, rng_all)
        null_all[s] = _kappa_matrix(shuffled, undefined)[i, j]
        selection[s] = _decisive_kappa(shuffled, undefined)[i, j]
    if decisive.any():
        for s in range(n_shuffles):
            null_decisive[s] = _kappa_matrix(_shuffle(right[:, decisive], rng_decisive), undefined)[i, j]

    frames = []
    for key, matrix, n, null, selected in (
        ("all", all_matrix, right.shape[1], null_all, null_all),
        ("decisive", decisive_matrix, int(decisive.sum()), null_decisive, selection),
    ):
        kappa = matrix[i, j]
        frame = pd.DataFrame(
            {
                "conditioning": key,
                "model_a": [labels[x] for x in i],
                "model_b": [labels[x] for x in j],
                "n_instances": np.full(i.size, n, dtype=np.int64),
                "kappa": kappa,
            }
        )
        frame = pd.concat([frame, _null_columns(kappa, null, selected, level)], axis=1)
        frames.append(frame)
    pairs = pd.concat(frames, ignore_index=True)[list(PAIR_COLUMNS)]
    return ErrorConsistencyReport(
        all_instances=pd.DataFrame(all_matrix, index=labels, columns=labels),
        decisive=pd.DataFrame(decisive_matrix, index=labels, columns=labels),
        dichotomy=split,
        pairs=pairs,
        n_shuffles=n_shuffles,
        level=level,
    )


def _null_columns(kappa: np.ndarray, null: np.ndarray, selection: np.ndarray, level: float) -> pd.DataFrame:
    """Mean, ``level`` quantile and permutation p-value of the null draws (shuffles x pairs) of each pair."""
    n_pairs = kappa.size
    out = {name: np.full(n_pairs, np.nan) for name in ("null_mean", "null_high", "p_value", "selection_null_mean")}
    for p in range(n_pairs):
        draws = null[:, p][np.isfinite(null[:, p])]
        if draws.size and np.isfinite(kappa[p]):
            out["null_mean"][p] = draws.mean()
            out["null_high"][p] = np.quantile(draws, level)
            out["p_value"][p] = (1 + np.sum(draws >= kappa[p])) / (1 + draws.size)
        chosen = selection[:, p][np.isfinite(selection[:, p])]
        if chosen.size:
            out["selection_null_mean"][p] = chosen.mean()
    frame = pd.DataFrame(out)
    frame.insert(3, "kappa_minus_null", kappa - frame["null_mean"].to_numpy())
    return frame


class BootstrapInterval(NamedTuple):
    """A point estimate with a bootstrap percentile interval."""

    estimate: float
    low: float
    high: float


def kappa_bootstrap_ci(
    correct_a: Any,
    correct_b: Any,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    *,
    undefined: float = 1.0,
) -> BootstrapInterval:
    """Error consistency with a percentile bootstrap interval over instances (Efron & Tibshirani 1993, ch. 13;
    for error consistency, Klein et al., arXiv 2507.06645, 2025).

    Each bootstrap replicate resamples the N instances with replacement and recomputes kappa (Geirhos et al.,
    NeurIPS 2020). Kappa depends on a resample only through its 2 x 2 table of (right, wrong) pairs,
    and the table of N draws with replacement is Multinomial(N, observed cell shares); the replicates are drawn
    as such tables, all at once. This is the same bootstrap distribution as resampling indices, at a cost that
    does not grow with N.

    Parameters
    ----------
    correct_a, correct_b : array-like of bool (or 0/1), shape (N,)
    n_boot : number of bootstrap replicates.
    level : coverage of the interval, in (0, 1); the bounds are the (1 - level)/2 and (1 + level)/2 quantiles.
    seed : seed of the NumPy generator (same seed, same interval).
    undefined : kappa of a replicate with c_exp = 1 (see :func:`error_consistency`); NaN replicates are
        ignored in the quantiles.

    Returns
    -------
    BootstrapInterval(estimate, low, high), ``estimate`` being :func:`error_consistency` on all instances.
    """
    seed = check_seed(seed, "seed")
    a = _check_binary(correct_a, "correct_a", 1)
    b = _check_binary(correct_b, "correct_b", 1)
    if a.shape != b.shape:
        raise ValueError(f"correct_a has {a.shape[0]} instances but correct_b has {b.shape[0]}; expected the same")
    n_boot = check_positive_int(n_boot, "n_boot")
    if n_boot > MAX_RESAMPLES:  # each resample is a pass over the data: 10**12 would run for days
        raise ValueError(f"n_boot must be at most {MAX_RESAMPLES:,}, got {n_boot:,}")
    level = _check_level(level)
    n = a.shape[0]
    cells = np.array([np.sum(a & b), np.sum(a & ~b), np.sum(~a & b), np.sum(~a & ~b)], dtype=np.int64)
    estimate = float(
        _kappa_from_counts(cells[0], cells[0] + cells[1], cells[0] + cells[2], n, _check_undefined(undefined))
    )
    tables = np.random.default_rng(seed).multinomial(n, cells / n, size=n_boot)
    kappas = _kappa_from_counts(
        tables[:, 0], tables[:, 0] + tables[:, 1], tables[:, 0] + tables[:, 2], n, _check_undefined(undefined)
    )
    kappas = kappas[np.isfinite(kappas)]
    if kappas.size == 0:
        return BootstrapInterval(estimate, np.nan, np.nan)
    low, high = np.quantile(kappas, [(1.0 - level) / 2.0, (1.0 + level) / 2.0])
    return BootstrapInterval(estimate, float(low), float(high))


# ---------------------------------------------------------------------------------------------- registry
def ensemble_scores(correct_per_model: Any) -> pd.DataFrame:
    """Registry adapter: ``n_models_correct`` and ``dichotomy`` from the (M x N) correctness of M models."""
    return dichotomy(check_correct(correct_per_model, "correct_per_model")).per_instance


_IN = ("correct_per_model",)
for _measure in (
    Measure(
        name="n_models_correct",
        perspective="ensemble",
        inputs=_IN,
        direction="hard = low",
        range="{0, ..., M}",
        description="Number of the M models that classify the instance correctly.",
        reference="Meding, Buschoff, Geirhos, Wichmann, ICLR 2022.",
        compute=ensemble_scores,
    ),
    Measure(
        name="dichotomy",
        perspective="ensemble",
        inputs=_IN,
        direction="hard = low",
        range="{impossible, decisive, trivial}",
        description="Trivial = correct under all models, impossible = wrong under all, decisive = the rest.",
        reference="Meding, Buschoff, Geirhos, Wichmann, ICLR 2022.",
        compute=ensemble_scores,
    ),
):
    register(_measure)
