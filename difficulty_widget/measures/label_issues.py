"""Label issues: a calibrated flag for training labels that are probably wrong, from one training run.

Per training instance: ``label_issue`` (bool), ``label_issue_score`` (in [0, 1], higher = more likely wrong) and
``suggested_label``; per class (:func:`label_issue_summary`): the estimated number of label errors and the class
pairs most often confused as each other.

The method is confident learning (Northcutt, Jiang, Chuang, "Confident learning: estimating uncertainty in
dataset labels", JAIR 70, 2021) run on out-of-sample class probabilities that one training run provides:

1. **Out-of-sample probabilities** ``p`` (:func:`label_issue_scores`). Confident learning needs probabilities
   that did not see the instance's own label; cleanlab obtains them by K-fold cross-validation (K extra
   trainings). One run gives two stand-ins, and ``p`` is their mean (``knn_weight = 0.5``):

   - the k-NN class shares on the penultimate features: the share of each class among the k = 30 nearest
     training neighbours, the instance itself excluded (the deep k-NN of Bahri, Jiang, Gupta, ICML 2020, read
     as a probability), out of sample by construction (:func:`knn_class_probabilities`);
   - the model's softmax averaged over the recorded epochs (:func:`mean_softmax`): a network fits the clean
     majority before it memorises the flipped labels (Arpit et al., ICML 2017, "A closer look at memorization
     in deep networks"), the effect behind the area under the margin (Pleiss et al., NeurIPS 2020), so the
     average over training stays low on the given label of a mislabelled instance.

   Without ``logits_per_epoch`` the k-NN shares alone are used. Out-of-sample probabilities from
   cross-validation, when the user has them (``pred_probs``), are used as given instead.
2. **Per-class thresholds** t_j = mean of p_j over the instances labelled j (paper, eq. 1).
3. **Confident joint** C (paper, eq. 2): an instance labelled i is counted in C[i, j] when p_j >= t_j and j is
   the argmax of p among the classes at or above their thresholds; instances with no class at or above its
   threshold are not counted.
4. **Estimated number of label errors** m = the off-diagonal count of C (cleanlab's ``num_label_issues``
   default, ``estimation_method="off_diagonal"``); per given class i, the off-diagonal count of row i
   (:func:`estimated_label_errors`). The paper's calibration (eq. 3: each row of C rescaled to the number of
   instances labelled i, the matrix to N; :func:`calibrate_confident_joint`) is offered with ``calibrate=True``.
5. **Flag**: the m instances with the lowest self-confidence p_y (the ranking of the paper's section 3.3 and of
   cleanlab's ``rank_by="self_confidence"``, taken over all classes at once). ``label_issue_score`` = 1 - p_y;
   ``suggested_label`` = argmax_{c != y} p_c for a flagged instance, the given label for the others.

Why this combination (``benchmarks/bench_label_noise.py``: Fashion-MNIST, 60,000 training images, small CNN,
3 epochs, one run; precision / recall of the flag, estimated count against the true number of flips):

- 5% symmetric flips (2,974): this flag 0.865 / 0.931, 3,200 (+7.6%), AUROC of the score 0.996 (an earlier run:
  0.856 / 0.934, 3,246). With the
  calibrated count (step 4, eq. 3) instead: 0.672 / 0.967, 4,282 (+44%): a fifth of the instances are below
  every threshold, left out of C, and the calibration spreads their rows over the off-diagonal cells. With
  per-class pruning (``prune_by_class``, the calibrated per-class counts): 0.650 / 0.936. k-NN shares alone:
  0.817 / 0.931, 3,389 (+14%; shares are multiples of 1/30, many ties at the cut); softmax alone: 0.840 / 0.920;
  the first epoch's softmax instead of the mean: 0.823 / 0.936. cleanlab 2.9 with 5-fold cross-validation (five
  extra trainings): 0.532 / 0.914, 5,108 (+72%); this confident joint on those same probabilities: 0.722 / 0.948.
- 20% symmetric flips (11,982): 0.943 / 0.945, 12,000 (+0.2%); cleanlab 0.780 / 0.937, 14,389 (+20%).
- 10% class-pair flips (6,089; each class to its most similar class): 0.761 / 0.772, 6,171 (+1%); cleanlab
  0.601 / 0.876, 8,873 (+46%).

Known limit: images that are ambiguous between two similar classes (shirt / T-shirt, pullover / coat) count in
the off-diagonal cells too, so the count over-estimates when the model is weaker: with 15,000 training images
the same recipe flags 29% too many (precision 0.725, recall 0.936).

Everything is batched numpy (no per-row Python loops); the k-NN search is the exact engine of
:mod:`difficulty_widget.measures.knn`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._validation import check_bool, check_labels, check_positive_int, to_numpy
from .dynamics import check_per_epoch
from .knn import check_features, nearest_neighbours
from .knn_streamed import streamed_nearest_neighbours
from .model import log_softmax
from .registry import Measure, register
from .search import KnnSearch
from .support import SupportRows, expand

LABEL_ISSUE_COLUMNS = ("label_issue", "label_issue_score", "suggested_label")

#: The most cells a table sized by the classes may have (2**28 float64: 2 GiB) when no class names bound it.
MAX_CELLS = 2**28


def check_probabilities(pred_probs: Any, n: int | None = None, name: str = "pred_probs") -> np.ndarray:
    """An N x C float64 array of finite probabilities in [0, 1] whose rows sum to 1 (within 1e-4)."""
    p = to_numpy(pred_probs)
    if p.ndim != 2 or p.shape[1] < 2:
        raise ValueError(f"{name} must have shape (n_instances, n_classes >= 2), got {p.shape}")
    if n is not None and len(p) != n:
        raise ValueError(f"{name} has {len(p)} rows, expected {n}")
    if not np.issubdtype(p.dtype, np.floating):
        raise ValueError(f"{name} must be floating point, got {p.dtype}")
    p = p.astype(np.float64)
    if not np.isfinite(p).all() or (p < 0).any() or (p > 1).any():
        raise ValueError(f"{name} must hold finite probabilities in [0, 1]")
    if not np.allclose(p.sum(axis=1), 1.0, atol=1e-4):
        raise ValueError(f"the rows of {name} must sum to 1")
    return p


def _labels_and_probs(labels: Any, pred_probs: Any) -> tuple[np.ndarray, np.ndarray]:
    p = check_probabilities(pred_probs)
    return check_labels(labels, n=len(p), n_classes=p.shape[1]), p


def per_class_thresholds(labels: Any, pred_probs: Any) -> np.ndarray:
    """t_j = mean of p_j over the instances labelled j (Northcutt et al. 2021, eq. 1); ``inf`` for a class
    nobody carries (no instance is then counted as truly of that class)."""
    y, p = _labels_and_probs(labels, pred_probs)
    return _thresholds(y, p)


def _thresholds(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    n_classes = p.shape[1]
    counts = np.bincount(y, minlength=n_classes)
    sums = np.zeros(n_classes)
    np.add.at(sums, y, p[np.arange(len(y)), y])
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.inf)


def confident_guess(labels: Any, pred_probs: Any, thresholds: Any = None) -> np.ndarray:
    """Per instance, the class j of its confident-joint cell: the argmax of p among the classes with
    p_j >= t_j (ties to the lower class), or -1 when no class reaches its threshold."""
    y, p = _labels_and_probs(labels, pred_probs)
    t = _thresholds(y, p) if thresholds is None else np.asarray(thresholds, dtype=np.float64)
    if t.shape != (p.shape[1],):
        raise ValueError(f"thresholds must have shape ({p.shape[1]},), got {t.shape}")
    return _guess(p, t)


def _guess(p: np.ndarray, t: np.ndarray) -> np.ndarray:
    above = p >= t[None, :]
    guess = np.where(above, p, -np.inf).argmax(axis=1)
    return np.where(above.any(axis=1), guess, -1)


def confident_joint(labels: Any, pred_probs: Any, thresholds: Any = None) -> np.ndarray:
    """The confident joint C (C x C, int64; Northcutt et al. 2021, eq. 2): C[i, j] counts the instances labelled
    i whose confident class (:func:`confident_guess`) is j."""
    y, p = _labels_and_probs(labels, pred_probs)
    t = _thresholds(y, p) if thresholds is None else thresholds
    guess = confident_guess(y, p, t)
    return _joint(y, guess, p.shape[1])


def _joint(y: np.ndarray, guess: np.ndarray, n_classes: int) -> np.ndarray:
    counted = guess >= 0
    flat = np.bincount(y[counted] * n_classes + guess[counted], minlength=n_classes * n_classes)
    return flat.reshape(n_classes, n_classes).astype(np.int64)


def calibrate_confident_joint(joint: Any, labels: Any) -> np.ndarray:
    """The calibrated joint (float64; Northcutt et al. 2021, eq. 3): row i of C rescaled to the number of
    instances labelled i, then the matrix to the number of instances N (a row of zeros stays zero)."""
    c = np.asarray(joint, dtype=np.float64)
    if c.ndim != 2 or c.shape[0] != c.shape[1] or (c < 0).any():
        raise ValueError(f"joint must be a square matrix of non-negative counts, got shape {c.shape}")
    y = check_labels(labels, n_classes=c.shape[0])
    counts = np.bincount(y, minlength=c.shape[0]).astype(np.float64)
    rows = c.sum(axis=1, keepdims=True)
    calibrated = np.divide(c, rows, out=np.zeros_like(c), where=rows > 0) * counts[:, None]
    total = calibrated.sum()
    return calibrated / total * len(y) if total > 0 else calibrated


def estimated_label_errors(labels: Any, pred_probs: Any, *, calibrate: bool = False) -> np.ndarray:
    """Per given class i, the estimated number of instances labelled i whose true class is another: the
    off-diagonal sum of row i of the confident joint, or of the calibrated joint with ``calibrate=True``
    (float64)."""
    calibrate = check_bool(calibrate, "calibrate")
    y, p = _labels_and_probs(labels, pred_probs)
    joint = _joint(y, _guess(p, _thresholds(y, p)), p.shape[1]).astype(np.float64)
    if calibrate:
        joint = calibrate_confident_joint(joint, y)
    return joint.sum(axis=1) - np.diag(joint)


def find_label_issues(labels: Any, pred_probs: Any, *, calibrate: bool = False) -> pd.DataFrame:
    """``label_issue``, ``label_issue_score`` and ``suggested_label`` from out-of-sample probabilities by
    confident learning (module docstring, steps 2-5): the m instances with the lowest self-confidence p_y are
    flagged, m = the estimated number of label errors (:func:`estimated_label_errors`, summed over classes)."""
    calibrate = check_bool(calibrate, "calibrate")
    y, p = _labels_and_probs(labels, pred_probs)
    return _find(y, p, calibrate)


def _find(y: np.ndarray, p: np.ndarray, calibrate: bool = False) -> pd.DataFrame:
    n = len(y)
    n_flag = min(n, int(np.rint(estimated_label_errors(y, p, calibrate=calibrate).sum())))
    self_confidence = p[np.arange(n), y]
    order = np.lexsort((np.arange(n), self_confidence))  # lowest self-confidence first, ties to the lower index
    flag = np.zeros(n, dtype=bool)
    flag[order[:n_flag]] = True
    others = p.copy()
    others[np.arange(n), y] = -np.inf
    suggested = np.where(flag, others.argmax(axis=1), y)
    score = np.clip(1.0 - self_confidence, 0.0, 1.0)
    return pd.DataFrame(
        {"label_issue": flag, "label_issue_score": score, "suggested_label": suggested.astype(np.int64)}
    )


def knn_class_probabilities(neighbour_labels: Any, n_classes: int) -> np.ndarray:
    """Per row, the share of each class among its neighbours' labels (N x k integers) -> N x C float64."""
    labels = np.asarray(neighbour_labels)
    if labels.ndim != 2 or labels.shape[1] == 0:
        raise ValueError(f"neighbour_labels must have shape (n_instances, k >= 1), got {labels.shape}")
    check_labels(labels.ravel(), n_classes=n_classes, name="neighbour_labels")
    n, k = labels.shape
    flat = (np.arange(n)[:, None] * n_classes + labels).ravel()
    return np.bincount(flat, minlength=n * n_classes).reshape(n, n_classes) / k


def mean_softmax(logits_per_epoch: Any, epochs: int | None = None) -> np.ndarray:
    """The softmax of the per-epoch logits (E x N x C) averaged over the first ``epochs`` records (all when
    ``None``) -> N x C float64."""
    z = check_per_epoch(logits_per_epoch, "logits_per_epoch", 3)
    n_epochs = z.shape[0]
    e = n_epochs if epochs is None else epochs
    if isinstance(e, bool) or not isinstance(e, (int, np.integer)) or not 1 <= e <= n_epochs:
        raise ValueError(f"epochs must be an integer in [1, {n_epochs}] (the recorded epochs), got {epochs!r}")
    return np.mean([np.exp(log_softmax(z[i].astype(np.float64))) for i in range(e)], axis=0)


def mix_probabilities(knn: Any = None, softmax: Any = None, knn_weight: float = 0.5) -> np.ndarray:
    """``knn_weight`` * k-NN shares + (1 - ``knn_weight``) * softmax; either alone when the other is ``None``."""
    if isinstance(knn_weight, bool) or not 0.0 <= float(knn_weight) <= 1.0:
        raise ValueError(f"knn_weight must lie in [0, 1], got {knn_weight!r}")
    if knn is None and softmax is None:
        raise ValueError("mix_probabilities needs k-NN shares, a softmax or both")
    if knn is None:
        return check_probabilities(softmax, name="softmax")
    if softmax is None:
        return check_probabilities(knn, name="knn")
    a = check_probabilities(knn, name="knn")
    b = check_probabilities(softmax, n=len(a), name="softmax")
    if a.shape != b.shape:
        raise ValueError(f"knn and softmax must have the same shape, got {a.shape} and {b.shape}")
    return float(knn_weight) * a + (1.0 - float(knn_weight)) * b


def label_issue_scores(
    features: Any,
    labels: Any,
    logits_per_epoch: Any = None,
    pred_probs: Any = None,
    support_mask: Any = None,
    k: int = 30,
    knn_weight: float = 0.5,
    calibrate: bool = False,
    device: Any = None,
    precision: str = "auto",
    memory_budget: int | str | None = None,
    search: KnnSearch | None = None,
) -> pd.DataFrame:
    """Registry adapter: ``label_issue``, ``label_issue_score`` and ``suggested_label`` for the training rows
    (the rows of ``support_mask``, every row when ``None``; other rows get missing values).

    The probabilities (module docstring, step 1): ``pred_probs`` (N_train x C, out-of-sample probabilities from
    cross-validation, the training rows in order) when given; otherwise the k-NN class shares of the training rows
    among themselves on ``features`` (itself excluded), averaged (``knn_weight``) with the softmax of
    ``logits_per_epoch`` (E x N_train x C) averaged over the epochs when given. ``device``, ``precision``,
    ``memory_budget``, ``search``: the k-NN search, as in :func:`~difficulty_widget.measures.data.data_scores`.
    """
    k = check_positive_int(k, "k")  # checked even when pred_probs make the k-NN shares unneeded
    y_all = check_labels(labels)
    rows = SupportRows.from_mask(support_mask, len(y_all))
    y = y_all[rows.support]
    if pred_probs is not None:
        p = check_probabilities(pred_probs, n=len(y))
        check_labels(y, n_classes=p.shape[1])
    else:
        x = check_features(features, "features")
        if len(x) != len(y_all):
            raise ValueError(f"features has {len(x)} rows but labels has {len(y_all)}")
        soft = None
        if logits_per_epoch is not None:
            z = check_per_epoch(logits_per_epoch, "logits_per_epoch", 3)
            if z.shape[1] != len(y):
                raise ValueError(f"logits_per_epoch covers {z.shape[1]} instances, expected {len(y)} training rows")
            check_labels(y, n_classes=z.shape[2])
            soft = mean_softmax(z)
        n_classes = int(y_all.max()) + 1 if soft is None else soft.shape[1]
        if len(y) * n_classes > MAX_CELLS:  # the k-NN class shares are N_train x C
            raise ValueError(
                f"labels go up to {n_classes - 1}: {len(y)} x {n_classes} class shares would not fit in memory; "
                "code the classes 0..C-1 (or pass pred_probs with one column per class)"
            )
        support_x = rows.take(x, rows.support)
        k = min(check_positive_int(k, "k"), len(support_x) - 1)  # at most every other support row
        if k < 1:
            raise ValueError("label issues need at least two support (training) rows")
        if search is not None:
            nn = search(support_x, support_x, k, exclude_self=True, precision=precision, device=device)
        elif memory_budget is None:
            nn = nearest_neighbours(support_x, support_x, k, exclude_self=True, device=device, precision=precision)
        else:
            nn = streamed_nearest_neighbours(
                support_x, support_x, k, exclude_self=True, device=device, precision=precision,
                memory_budget=memory_budget,
            )  # fmt: skip
        p = mix_probabilities(knn_class_probabilities(y[nn.indices], n_classes), soft, knn_weight)
    return expand(_find(y, p, calibrate), rows.support, rows.n)


def ensemble_label_issue_scores(logits_per_model: Any, labels: Any, weights: Any = None) -> pd.DataFrame:
    """Label issues from several models' predictions on the same rows (``analyze_models``):
    ``ensemble_label_issue``, ``ensemble_label_issue_score`` and ``ensemble_suggested_label``.

    ``logits_per_model`` (M x N x C): each model's logits. p = the (``weights``-weighted, default equal) mean of the
    models' softmax; the score is 1 - p_y, the ensemble self-confidence of cleanlab's
    ``get_label_quality_ensemble_scores`` (Northcutt et al. 2021, section 3.3; the mean of the models' scores, since
    the self-confidence is linear in p), and the flag and suggested label are confident learning on p (module
    docstring, steps 2-5). The flag reads p as out-of-sample: that holds for rows none of the models trained on
    (for example pretrained models on a validation set); on their training rows it finds fewer errors.
    """
    z = to_numpy(logits_per_model)
    if z.ndim != 3 or z.shape[0] < 1 or z.shape[1] == 0 or z.shape[2] < 2:
        raise ValueError(f"logits_per_model must have shape (n_models, n_instances, n_classes >= 2), got {z.shape}")
    if not np.issubdtype(z.dtype, np.floating) or not np.isfinite(z).all():
        raise ValueError("logits_per_model must hold finite floating-point logits")
    y = check_labels(labels, n=z.shape[1], n_classes=z.shape[2])
    if weights is None:
        w = np.full(z.shape[0], 1.0 / z.shape[0])
    else:
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != (z.shape[0],) or not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
            raise ValueError(f"weights must be {z.shape[0]} finite non-negative numbers, not all 0, got {weights!r}")
        w = w / w.sum()
    p = np.zeros(z.shape[1:], dtype=np.float64)
    for m in range(z.shape[0]):  # one model at a time: memory stays at two N x C float64 arrays
        p += w[m] * np.exp(log_softmax(z[m].astype(np.float64)))
    p /= p.sum(axis=1, keepdims=True)
    out = _find(y, p)
    return out.rename(columns={column: f"ensemble_{column}" for column in out.columns})


@dataclass(frozen=True)
class LabelIssueSummary:
    """Per class and per class pair, what the label-issue flag says (:func:`label_issue_summary`).

    ``per_class``: one row per class: ``class``, ``name``, ``labelled`` (instances given that label),
    ``estimated_errors`` (flagged among them), ``error_rate`` (their share), ``suggested_in`` (flagged instances
    whose suggested label is this class). ``pairs``: unordered class pairs with at least one flagged instance
    labelled as one and suggested as the other, most first: ``class_a``, ``class_b``, ``a_to_b`` (labelled a,
    suggested b), ``b_to_a``, ``total``. ``joint``: the C x C matrix of flagged instances, given label x
    suggested label."""

    per_class: pd.DataFrame
    pairs: pd.DataFrame
    joint: np.ndarray


def label_issue_summary(
    labels: Any, label_issue: Any, suggested_label: Any, *, class_names: Any = None, n_classes: int | None = None
) -> LabelIssueSummary:
    """The estimated number of label errors per class and the class pairs most often confused as each other,
    from the columns ``label``, ``label_issue`` and ``suggested_label`` of an Analysis (rows whose flag is
    missing, outside the training set, are left out)."""
    flag_series = pd.Series(to_numpy(label_issue) if not isinstance(label_issue, pd.Series) else label_issue)
    known = flag_series.notna().to_numpy()
    y = check_labels(to_numpy(labels), n=len(flag_series))
    given = flag_series[known]
    if not (pd.api.types.is_bool_dtype(given.dtype) or given.map(lambda v: isinstance(v, (bool, np.bool_))).all()):
        raise TypeError(
            f"label_issue must hold True / False flags (or missing values), got dtype {flag_series.dtype}, "
            f"e.g. {given[~given.map(lambda v: isinstance(v, (bool, np.bool_)))].iloc[0]!r}"
        )
    flag = flag_series.to_numpy(dtype=bool, na_value=False)
    suggested_series = pd.Series(
        to_numpy(suggested_label) if not isinstance(suggested_label, pd.Series) else suggested_label
    )
    if len(suggested_series) != len(y):
        raise ValueError(f"suggested_label has {len(suggested_series)} rows, expected {len(y)}")
    if suggested_series.dtype == bool or not pd.api.types.is_numeric_dtype(suggested_series.dtype):
        raise TypeError(
            f"suggested_label must hold class indices (or missing values), got dtype {suggested_series.dtype}"
        )
    suggested_float = suggested_series.to_numpy(dtype=np.float64, na_value=-1)
    fractional = suggested_float != np.round(suggested_float)
    if fractional.any():
        raise ValueError(
            f"suggested_label must hold whole class indices, got {float(suggested_float[fractional][0])!r}"
        )
    suggested = suggested_float.astype(np.int64)
    if n_classes is not None:
        n_classes = check_positive_int(n_classes, "n_classes")
    c = int(max(y.max(), suggested.max()) + 1) if n_classes is None else n_classes
    if n_classes is None and class_names is None and c * c > MAX_CELLS:  # the joint table is C x C
        raise ValueError(f"labels go up to {c - 1}: a {c} x {c} table would not fit in memory; code the classes 0..C-1")
    names = [str(i) for i in range(c)] if class_names is None else [str(name) for name in class_names]
    if len(names) != c:
        raise ValueError(f"class_names has {len(names)} names, expected {c}")
    if (flag & ((suggested < 0) | (suggested >= c))).any():
        raise ValueError(f"suggested_label of a flagged row must be a class in [0, {c})")
    joint = np.bincount(y[flag] * c + suggested[flag], minlength=c * c).reshape(c, c)
    labelled = np.bincount(y[known], minlength=c)
    errors = joint.sum(axis=1)
    per_class = pd.DataFrame(
        {
            "class": np.arange(c),
            "name": names,
            "labelled": labelled,
            "estimated_errors": errors,
            "error_rate": np.divide(errors, labelled, out=np.zeros(c), where=labelled > 0),
            "suggested_in": joint.sum(axis=0),
        }
    )
    a, b = np.triu_indices(c, k=1)
    pairs = pd.DataFrame({"class_a": a, "class_b": b, "a_to_b": joint[a, b], "b_to_a": joint[b, a]})
    pairs["total"] = pairs["a_to_b"] + pairs["b_to_a"]
    pairs = pairs[pairs["total"] > 0].sort_values(["total", "class_a", "class_b"], ascending=[False, True, True])
    return LabelIssueSummary(per_class, pairs.reset_index(drop=True), joint)


def _series(values: Any) -> pd.Series:
    """A column as a Series with its missing values (pandas nullable columns stay as they are)."""
    return values.reset_index(drop=True) if isinstance(values, pd.Series) else pd.Series(to_numpy(values))


_OPTIONAL = (
    "logits_per_epoch", "pred_probs", "support_mask", "device", "precision", "memory_budget", "search",
)  # fmt: skip
_CL = "Northcutt, Jiang, Chuang, JAIR 2021 (confident learning); Bahri, Jiang, Gupta, ICML 2020 (deep k-NN)."
for _measure in (
    Measure(
        "label_issue", "data", ("features", "labels"), "hard = high", "{False, True}",
        "Flagged as a probable label error: among the m lowest p_y, m = off-diagonal count of the confident joint "
        "(p = mean of 30-NN class shares and the softmax over epochs).", _CL, label_issue_scores, _OPTIONAL,
    ),
    Measure(
        "label_issue_score", "data", ("features", "labels"), "hard = high", "[0, 1]",
        "1 - p_y, p the out-of-sample probabilities of the label-issue flag.", _CL, label_issue_scores, _OPTIONAL,
    ),
    Measure(
        "ensemble_label_issue", "ensemble", ("logits_per_model", "labels"), "hard = high", "{False, True}",
        "Flagged as a probable label error by confident learning on the models' mean softmax (out-of-sample when "
        "no model trained on the row).", _CL, ensemble_label_issue_scores,
    ),
    Measure(
        "ensemble_label_issue_score", "ensemble", ("logits_per_model", "labels"), "hard = high", "[0, 1]",
        "1 - p_y, p the mean softmax of the models (cleanlab's ensemble self-confidence).", _CL,
        ensemble_label_issue_scores,
    ),
):  # fmt: skip
    register(_measure)
