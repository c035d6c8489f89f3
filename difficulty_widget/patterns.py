"""Named difficulty patterns and the binned heatmap of two measures (the Explorer's "difficulty patterns" view).

A :class:`Pattern` is a pandas ``DataFrame.query`` string over analysis columns. Its thresholds come from what the
measure means where the measure has a meaning ("confident but wrong" is wrong with confidence at least 0.9; "deep
but correct" is decided in the last third of the probes), from a calibrated flag where one exists ("label issues",
"likely mislabelled", the data-quality flags), and from quantiles only for measures without a natural scale (loss
against human agreement). Two placeholders are written out by :func:`pattern_query`, so the query a user reads is
the query that runs, and can be edited and passed to ``df.query`` (or to the Explorer) as is:

- ``quantile(column, p)``: the ``p``-quantile of that column on the data at hand (NaN ignored, linear
  interpolation, as ``numpy.nanquantile``). "Top quartile" means ``>= quantile(column, 0.75)``, inclusive, so ties
  at the threshold are kept; when ties swallow the quartile entirely (the threshold is the column's minimum for
  ``>=``, its maximum for ``<=``) the comparison becomes strict, so the pattern still selects the rows beyond it.
- ``probe_fraction(a/b)``: the first probe index at or past the fraction ``a/b`` of the ``L`` depth probes,
  ``ceil(a/b * L)`` (exact rational arithmetic). ``L`` comes from the Analysis' provenance (``depth_probes``), from
  ``n_probes=``, or from the undetermined rows (their depth is ``L``).

A pattern may name a ``fallback``, used when the table lacks the first one's columns: "likely mislabelled" is the
calibrated label-issue flag where ``analyze`` computed it, else the training-dynamics rule AUM < 0 and k-NN
agreement < 1/2. A flag's missing value (a test row's ``label_issue``, a training row's ``leaked``) is not
selected.

:func:`binned_pair` counts instances in a grid over two measures (quantile or equal-width bins, one row per cell,
the heatmap of DifficultyEyes-style "difficulty patterns"), and :func:`cell_members` gives each row its cell so
that a clicked cell maps to instance ids.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from types import MappingProxyType

import numpy as np
import pandas as pd

from ._validation import check_positive_int
from .analysis import Analysis, frame_of

BIN_METHODS: tuple[str, ...] = ("quantile", "width")
_QUANTILE = re.compile(r"quantile\(\s*([A-Za-z_]\w*)\s*,\s*([0-9]*\.?[0-9]+)\s*\)")
_COMPARED = re.compile(r"(>=|<=)\s*(quantile\(\s*([A-Za-z_]\w*)\s*,\s*([0-9]*\.?[0-9]+)\s*\))")
_PROBE_FRACTION = re.compile(r"probe_fraction\(\s*([0-9]+)\s*/\s*([0-9]+)\s*\)")
#: The confidence from which a wrong prediction counts as confident ("confident but wrong").
CONFIDENT = 0.9


@dataclass(frozen=True)
class Pattern:
    """A named selection: ``query`` (``DataFrame.query`` syntax; thresholds may be ``quantile(column, p)`` or
    ``probe_fraction(a/b)``), a one-line ``description`` of what it selects and why, the columns it ``needs``, and
    the pattern to use instead when a table lacks them (``fallback``, same name)."""

    name: str
    query: str
    description: str
    needs: tuple[str, ...]
    fallback: Pattern | None = None


def _patterns(*patterns: Pattern) -> Mapping[str, Pattern]:
    return MappingProxyType({p.name: p for p in patterns})


PATTERNS: Mapping[str, Pattern] = _patterns(
    Pattern(
        "hard for the model, easy for humans",
        "loss >= quantile(loss, 0.75) and human_agreement >= quantile(human_agreement, 0.75)",
        "Loss in its top quartile while annotators agree with the label (human agreement in its top quartile). "
        "Neither measure has a natural cut, so both are relative to the data at hand.",
        ("loss", "human_agreement"),
    ),
    Pattern(
        "easy for the model, hard for humans",
        "loss <= quantile(loss, 0.25) and human_agreement <= quantile(human_agreement, 0.25)",
        "Loss in its bottom quartile while annotators disagree (human agreement in its bottom quartile).",
        ("loss", "human_agreement"),
    ),
    Pattern(
        "confident but wrong",
        f"correct == False and confidence >= {CONFIDENT}",
        f"Misclassified although the model gives its prediction a probability of at least {CONFIDENT}: the errors "
        "a confidence threshold would not catch (a fixed level, not a quantile, which collapses when a trained "
        "model is near 1 on most images).",
        ("correct", "confidence"),
    ),
    Pattern(
        "deep but correct",
        "correct == True and depth_undetermined == False and prediction_depth >= probe_fraction(2/3)",
        "Correctly classified, but the k-NN probes settle on the prediction only in the last third of the layers "
        "(Baldock, Maennel, Neyshabur, NeurIPS 2021: such examples are learned late and tend to be atypical); "
        "images whose probes never settle (depth_undetermined) are excluded.",
        ("correct", "prediction_depth", "depth_undetermined"),
    ),
    Pattern(
        "label issues",
        "label_issue == True",
        "Flagged as a probable label error by the calibrated label-issue flag (confident learning on out-of-sample "
        "probabilities; Northcutt, Jiang, Chuang, JAIR 2021); each has a suggested label.",
        ("label_issue",),
    ),
    Pattern(
        "likely mislabelled",
        "label_issue == True",
        "The calibrated label-issue flag ('label issues'). Without it: training images whose average margin "
        "stays negative (AUM < 0: another class wins on average; Pleiss, Zhang, Elenberg, Weinberger, NeurIPS "
        "2020) and most of whose neighbours carry another label (k-NN agreement < 1/2).",
        ("label_issue",),
        fallback=Pattern(
            "likely mislabelled",
            "aum < 0 and knn_agreement < 0.5",
            "Training images whose average margin stays negative (AUM < 0: another class wins on average; Pleiss, "
            "Zhang, Elenberg, Weinberger, NeurIPS 2020) and most of whose neighbours carry another label (k-NN "
            "agreement < 1/2). Run analyze with logits_per_epoch for the calibrated flag ('label issues').",
            ("aum", "knn_agreement"),
        ),
    ),
    Pattern(
        "easy to learn",
        "dm_region == 'easy-to-learn'",
        "Dataset Cartography's easy-to-learn region (Swayamdipta et al., EMNLP 2020): high mean confidence in the "
        "label across epochs with low variability (see data_map for the thresholds).",
        ("dm_region",),
    ),
    Pattern(
        "ambiguous",
        "dm_region == 'ambiguous'",
        "Dataset Cartography's ambiguous region: the confidence in the label swings across epochs (high "
        "variability); these images help generalisation most (Swayamdipta et al., EMNLP 2020).",
        ("dm_region",),
    ),
    Pattern(
        "hard to learn",
        "dm_region == 'hard-to-learn'",
        "Dataset Cartography's hard-to-learn region: low confidence in the label at every epoch; mislabelled "
        "images gather here (Swayamdipta et al., EMNLP 2020).",
        ("dm_region",),
    ),
    Pattern(
        "leaked",
        "leaked == True",
        "A test image that is an exact or near duplicate of a training image (train/test leakage; leaks_from is the "
        "training image's id). Missing, so never selected, for training images.",
        ("leaked",),
    ),
    Pattern(
        "outliers",
        "outlier == True",
        "Far from the training data: the mean distance to its 30 nearest training images lies above Tukey's fence "
        "Q3 + 1.5 IQR of the training images' (the rule of cleanlab Datalab's outlier issue).",
        ("outlier",),
    ),
    Pattern(
        "conflicting duplicates",
        "conflicting_duplicate_labels == True",
        "In a group of exact or near duplicates whose labels differ (duplicate_group): at least one of them is "
        "mislabelled. The Explorer's gallery sorts by duplicate_group, so each group shows side by side.",
        ("conflicting_duplicate_labels",),
    ),
)


def pattern_query(df: pd.DataFrame | Analysis, name: str | Pattern, *, n_probes: int | None = None) -> str:
    """The pattern's query with each placeholder written out on ``df``: ``quantile(column, p)`` as a number that
    parses back to the same float, ``probe_fraction(a/b)`` as the integer probe index ``ceil(a/b * L)``, so the
    query is readable, editable and exact. A pattern whose columns ``df`` lacks runs its ``fallback``, if any.
    ``n_probes`` is the number of depth probes ``L`` (default: from the Analysis' provenance, else from the rows
    whose depth is undetermined)."""
    frame = frame_of(df)
    pat = _applicable(_resolve(name), frame)

    def value(match: re.Match[str]) -> str:
        column, p = match.group(1), float(match.group(2))
        if column not in frame.columns:
            raise ValueError(f"pattern {pat.name!r} takes a quantile of {column!r}, which df does not have")
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"pattern {pat.name!r}: quantile level must lie in [0, 1], got {p} for {column!r}")
        values = _numeric(frame, column)
        if np.isnan(values).all():
            raise ValueError(f"pattern {pat.name!r}: column {column!r} has no values (all NaN)")
        threshold = float(np.nanquantile(values, p))
        if not np.isfinite(threshold):
            raise ValueError(f"pattern {pat.name!r}: quantile({column}, {p}) is {threshold}; expected a finite value")
        return repr(threshold)

    def compared(match: re.Match[str]) -> str:
        # ">= q" at the column's minimum (or "<= q" at its maximum) keeps every row: ties have swallowed the
        # quartile, so the comparison becomes strict and selects only the rows beyond the tied value
        operator, column = match.group(1), match.group(3)
        number = value(_QUANTILE.match(match.group(2)))
        values = _numeric(frame, column)
        if operator == ">=" and float(number) <= np.nanmin(values):
            operator = ">"
        elif operator == "<=" and float(number) >= np.nanmax(values):
            operator = "<"
        return f"{operator} {number}"

    def probe_index(match: re.Match[str]) -> str:
        numerator, denominator = int(match.group(1)), int(match.group(2))
        if denominator == 0 or numerator > denominator:
            raise ValueError(f"pattern {pat.name!r}: probe_fraction needs a fraction in [0, 1], got {match.group(0)}")
        probes = depth_probe_count(df, n_probes)
        return str(math.ceil(Fraction(numerator, denominator) * probes))

    query = _QUANTILE.sub(value, _COMPARED.sub(compared, pat.query))
    return _PROBE_FRACTION.sub(probe_index, query)


def depth_probe_count(df: pd.DataFrame | Analysis, n_probes: int | None = None) -> int:
    """The number of depth probes ``L`` behind ``prediction_depth``: ``n_probes`` when given, else the length of
    the Analysis' ``provenance["depth_probes"]``, else the depth of the undetermined rows (which is ``L``)."""
    if n_probes is not None:
        return check_positive_int(n_probes, "n_probes")
    probes = df.provenance.get("depth_probes") if isinstance(df, Analysis) else None
    if probes:
        return len(probes)
    frame = frame_of(df)
    if {"prediction_depth", "depth_undetermined"} <= set(frame.columns):
        undetermined = frame["depth_undetermined"].fillna(False).to_numpy(dtype=bool)
        depths = np.unique(_numeric(frame, "prediction_depth")[undetermined])
        if len(depths) == 1 and float(depths[0]).is_integer() and depths[0] > 0:
            return int(depths[0])
        if len(depths) > 1:
            raise ValueError(
                f"the undetermined rows have different prediction depths {depths[:5].tolist()}; expected one "
                "value, the number of probes"
            )
    raise ValueError(
        "the number of depth probes is unknown: no provenance['depth_probes'] and no undetermined rows; "
        "pass n_probes= (the number of layers probed)"
    )


def pattern_mask(df: pd.DataFrame | Analysis, name: str | Pattern, *, n_probes: int | None = None) -> np.ndarray:
    """Boolean mask over the rows of ``df`` selected by the pattern ``name`` (or a :class:`Pattern`); rows with NaN
    (or a missing value) in a compared column are not selected."""
    frame = frame_of(df)
    selected = frame.eval(pattern_query(df, name, n_probes=n_probes))
    if isinstance(selected, pd.Series):  # a nullable column (e.g. label_issue, missing on test rows) compares to NA
        return selected.fillna(False).to_numpy(dtype=bool)
    return np.asarray(selected, dtype=bool)


def select_pattern(df: pd.DataFrame | Analysis, name: str | Pattern, *, n_probes: int | None = None) -> np.ndarray:
    """The ids (int64, in table order) of the rows that match the pattern ``name`` (a key of :data:`PATTERNS`, or
    a :class:`Pattern` of your own)."""
    frame = frame_of(df)
    if "id" not in frame.columns:
        raise ValueError(f"df must have an 'id' column; it has {list(frame.columns)}")
    return frame["id"].to_numpy()[pattern_mask(df, name, n_probes=n_probes)].astype(np.int64)


def pattern_labels(
    df: pd.DataFrame | Analysis, names: Sequence[str] | None = None, *, n_probes: int | None = None
) -> pd.Categorical:
    """Per row, the first of the patterns ``names`` (default: every available one, in :data:`PATTERNS` order) that
    the row matches, or ``"none"``: a categorical to colour a chart by pattern."""
    frame = frame_of(df)
    chosen = available_patterns(df, n_probes=n_probes) if names is None else [_resolve(n).name for n in names]
    labels = np.full(len(frame), "none", dtype=object)
    for name in reversed(chosen):  # the first pattern in the list wins where several match
        labels[pattern_mask(df, name, n_probes=n_probes)] = name
    return pd.Categorical(labels, categories=[*chosen, "none"])


def available_patterns(df: pd.DataFrame | Analysis, *, n_probes: int | None = None) -> list[str]:
    """Names of the patterns in :data:`PATTERNS` (or their fallbacks) whose columns ``df`` has with at least one
    non-missing value, and whose thresholds can be written out (a depth pattern needs the number of probes)."""
    names = []
    for name, pat in PATTERNS.items():
        try:
            pattern_query(df, pat, n_probes=n_probes)
        except ValueError:
            continue
        names.append(name)
    return names


def pattern_description(df: pd.DataFrame | Analysis, name: str | Pattern) -> str:
    """What the pattern ``name`` selects on ``df``: the description of the pattern or of the fallback it runs."""
    return _applicable(_resolve(name), frame_of(df)).description


def binned_pair(df: pd.DataFrame | Analysis, x: str, y: str, bins: int = 5, method: str = "quantile") -> pd.DataFrame:
    """Counts of instances in a ``bins`` x ``bins`` grid over columns ``x`` and ``y``: one row per cell with
    ``x_bin``, ``y_bin``, ``x_lower``, ``x_upper``, ``y_lower``, ``y_upper`` and ``count`` (empty cells too).

    Edges come from the rows where both values are finite: ``"quantile"`` puts edges at the 0, 1/bins, ..., 1
    quantiles and keeps the unique ones (ties can leave fewer bins), ``"width"`` splits [min, max] evenly. Bins
    are half-open ``[lower, upper)`` except the last, which is closed, as in ``numpy.histogram2d``; a constant
    column gets one bin with ``lower == upper``. Rows with a missing value are not counted.
    """
    x_edges, y_edges, x_bin, y_bin = bin_pair(df, x, y, bins, method)
    nx, ny = len(x_edges) - 1, len(y_edges) - 1
    kept = x_bin >= 0
    counts = np.bincount(x_bin[kept] * ny + y_bin[kept], minlength=nx * ny)
    gx, gy = np.divmod(np.arange(nx * ny), ny)
    return pd.DataFrame(
        {
            "x_bin": gx,
            "y_bin": gy,
            "x_lower": x_edges[gx],
            "x_upper": x_edges[gx + 1],
            "y_lower": y_edges[gy],
            "y_upper": y_edges[gy + 1],
            "count": counts.astype(np.int64),
        }
    )


def cell_members(
    df: pd.DataFrame | Analysis, x: str, y: str, bins: int = 5, method: str = "quantile"
) -> tuple[np.ndarray, np.ndarray]:
    """Each row's cell in :func:`binned_pair` with the same arguments: (x_bin, y_bin) int64 arrays of length
    ``len(df)``, both -1 for rows where ``x`` or ``y`` is missing. The ids of cell (i, j) are
    ``df["id"][(x_bin == i) & (y_bin == j)]``."""
    _, _, x_bin, y_bin = bin_pair(df, x, y, bins, method)
    return x_bin, y_bin


# ---------------------------------------------------------------------------------------------------- helpers


def _resolve(pattern: str | Pattern) -> Pattern:
    if isinstance(pattern, Pattern):
        return pattern
    if not isinstance(pattern, str) or pattern not in PATTERNS:
        raise ValueError(f"unknown pattern {pattern!r}; valid names: {list(PATTERNS)}")
    return PATTERNS[pattern]


def _missing_needs(pattern: Pattern, frame: pd.DataFrame) -> str | None:
    missing = [c for c in pattern.needs if c not in frame.columns]
    if missing:
        return f"pattern {pattern.name!r} needs the columns {missing}, which df does not have"
    empty = [c for c in pattern.needs if not frame[c].notna().any()]
    if empty:
        return f"pattern {pattern.name!r} needs the columns {empty}, which hold no values (all NaN)"
    return None


def _applicable(pattern: Pattern, frame: pd.DataFrame) -> Pattern:
    """The pattern itself, or the first of its fallbacks whose columns ``frame`` has; else the first's error."""
    problems = []
    candidate: Pattern | None = pattern
    while candidate is not None:
        problem = _missing_needs(candidate, frame)
        if problem is None:
            return candidate
        problems.append(problem if not problems else problem.replace(f"pattern {pattern.name!r}", "its fallback"))
        candidate = candidate.fallback
    raise ValueError("; ".join(problems))


def _numeric(frame: pd.DataFrame, column: str) -> np.ndarray:
    series = frame[column]
    if not (pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)):
        raise ValueError(f"column {column!r} must be numeric, got dtype {series.dtype}")
    return series.to_numpy(dtype=np.float64, na_value=np.nan)


MAX_BINS = 1000
"""The most bins per axis of a binned pair (a million cells)."""


def bin_pair(
    df: pd.DataFrame | Analysis, x: str, y: str, bins: int = 5, method: str = "quantile"
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The binning behind :func:`binned_pair` and :func:`cell_members`, in one pass: (x_edges, y_edges, x_bin,
    y_bin), the bins per row being -1 where ``x`` or ``y`` is missing."""
    frame = frame_of(df)
    bins = check_positive_int(bins, "bins")
    if bins > MAX_BINS:  # a bins x bins grid of counts
        raise ValueError(f"bins must be at most {MAX_BINS} (a grid of bins x bins cells), got {bins}")
    if method not in BIN_METHODS:
        raise ValueError(f"method must be one of {BIN_METHODS}, got {method!r}")
    for name, column in (("x", x), ("y", y)):
        if column not in frame.columns:
            raise ValueError(f"{name}={column!r} is not a column of df; it has {list(frame.columns)}")
    xs, ys = _numeric(frame, x), _numeric(frame, y)
    valid = np.isfinite(xs) & np.isfinite(ys)
    if not valid.any():
        raise ValueError(f"no row has finite values in both {x!r} and {y!r}")
    x_edges, y_edges = _edges(xs[valid], bins, method), _edges(ys[valid], bins, method)
    x_bin = np.full(len(frame), -1, dtype=np.int64)
    y_bin = np.full(len(frame), -1, dtype=np.int64)
    x_bin[valid] = _digitize(xs[valid], x_edges)
    y_bin[valid] = _digitize(ys[valid], y_edges)
    return x_edges, y_edges, x_bin, y_bin


def _edges(values: np.ndarray, bins: int, method: str) -> np.ndarray:
    if method == "quantile":
        edges = np.unique(np.quantile(values, np.linspace(0.0, 1.0, bins + 1)))
    else:
        edges = np.linspace(values.min(), values.max(), bins + 1)
    if edges[0] == edges[-1]:  # a constant column: one closed bin [v, v]
        edges = edges[[0, -1]]
    return edges


def _digitize(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin index as numpy.histogram: [e_i, e_{i+1}) and the last bin closed."""
    return np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 2).astype(np.int64)
