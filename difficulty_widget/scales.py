"""Histogram scales and tidy numbers for chart axes: pure functions, arrays in, arrays (or strings) out.

Scores of a trained model are skewed: most losses are tiny, most true-class probabilities are next to 1, so
equal-width bins put nearly every instance in one bar. :func:`histogram_scale` picks, from the data, one of

1. ``"linear"``: equal-width bins at a round step, kept unless one of them holds more than :data:`PILE` of the values;
2. ``"log"``: bins of equal width in log10, when every value is positive, they span at least :data:`LOG_DECADES`
   decades (losses, variances) and no log bin holds more than :data:`PILE`;
3. ``"quantile"``: bins holding about equal numbers of values (a pile next to a bound, such as probabilities next
   to 1, or a range that holds zero), when its fullest bin holds less than the fullest linear one (a pile on one
   exact value, e.g. 70% zeros, stays linear: no edge can split it). The Explorer draws each quantile bin equally
   wide, so the axis stretches where the values crowd and its labels say where they are.

:func:`histogram_bins` gives the edges (rounded to short decimals that keep every bin), :func:`tidy_number`,
:func:`tidy_labels` and :func:`tidy_range` the axis and bin labels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np

from ._validation import power_of_two_scale

Scale = Literal["linear", "log", "quantile"]
SCALES: tuple[str, ...] = ("linear", "log", "quantile")
#: A share of the values in one bin above which :func:`histogram_scale` looks past equal-width bins.
PILE = 0.5
#: How many decades (max / min) positive values must span for :func:`histogram_scale` to consider a log scale.
LOG_DECADES = 3.0
_STEPS = (1.0, 2.0, 2.5, 5.0, 10.0)  # round steps of linear bins, times a power of ten


def finite_values(values: Sequence[float] | np.ndarray) -> np.ndarray:
    """The finite values of ``values`` as float64 (NaN, None and infinities dropped)."""
    array = np.asarray(values, dtype=float).ravel()
    return array[np.isfinite(array)]


def histogram_scale(values: Sequence[float] | np.ndarray, bins: int = 40) -> Scale:
    """The scale that spreads ``values`` best over ``bins`` bins (see the module docstring): ``"linear"`` unless one
    equal-width bin holds more than :data:`PILE` of the finite values; then ``"log"`` if it qualifies, else
    ``"quantile"`` if its fullest bin is emptier than the linear one's (see the module docstring)."""
    finite = finite_values(values)
    if np.unique(finite).size < 2:
        return "linear"
    linear = _fullest(finite, histogram_bins(finite, bins, "linear"))
    if linear <= PILE:
        return "linear"
    low, high = float(finite.min()), float(finite.max())
    if low > 0 and math.log10(high / low) >= LOG_DECADES:
        if _fullest(finite, histogram_bins(finite, bins, "log")) <= PILE:
            return "log"
    quantile = _fullest(finite, histogram_bins(finite, bins, "quantile"))
    return "quantile" if quantile < linear else "linear"


MAX_BINS = 10_000
"""The most bins a histogram may ask for (a browser draws a bar per bin)."""


def histogram_bins(values: Sequence[float] | np.ndarray, bins: int = 40, scale: str | None = None) -> np.ndarray:
    """Bin edges (float64, strictly increasing, covering every finite value, also as float32) for about ``bins``
    bins of ``values`` on ``scale`` (None or ``"auto"``: :func:`histogram_scale`). Bins are ``[a, b)``, the last
    ``[a, b]``, as in ``np.histogram``.

    ``"linear"``: a round step; ``"log"``: equal steps in log10 over the positive values (values <= 0 fall outside
    the edges; none positive is a ValueError); ``"quantile"``: equal-count bins, tied quantiles merged. A constant
    gives one bin around it. NaN and infinities are ignored; no finite value at all is a ValueError."""
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or not 1 <= bins <= MAX_BINS:
        raise ValueError(f"bins must be an integer in [1, {MAX_BINS}], got {bins!r}")
    finite = finite_values(values)
    if finite.size == 0:
        raise ValueError("no finite values to bin")
    if scale in (None, "auto"):
        scale = histogram_scale(finite, bins)
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, 'auto' or None, got {scale!r}")
    if scale == "log":
        finite = finite[finite > 0]
        if finite.size == 0:
            raise ValueError("a log scale needs positive values; these have none")
    low, high = float(finite.min()), float(finite.max())
    if low == high:
        return _around(low, scale == "log")
    if scale == "linear":
        edges = _linear_edges(low, high, int(bins))
    elif scale == "log":
        edges = _log_edges(low, high, int(bins))
    else:
        unit = power_of_two_scale(finite)  # exact division: quantiles of +-1.7e308 interpolate without overflow
        quantiles = np.quantile(finite / unit, np.linspace(0.0, 1.0, int(bins) + 1)) * unit
        edges = _tidy(_increasing(quantiles, low, high), positive=low > 0)
    return _cover(_increasing(edges, low, high), low, high)


def axis_ticks(edges: Sequence[float] | np.ndarray, scale: str, most: int = 6) -> list[float]:
    """At most ``most`` tick values for a histogram's axis: powers of ten on a log scale (when two or more fall in
    the edges' range), else edges spread evenly, the first and last included."""
    edges = np.asarray(edges, dtype=float)
    if scale == "log" and edges[0] > 0:
        first, last = math.ceil(math.log10(edges[0]) - 1e-9), math.floor(math.log10(edges[-1]) + 1e-9)
        powers = list(range(first, last + 1))
        if len(powers) >= 2:
            step = math.ceil(len(powers) / most)
            return [float(f"1e{p}") for p in powers[::step]]
    picks = np.unique(np.round(np.linspace(0, len(edges) - 1, min(most, len(edges)))).astype(int))
    return [float(edges[i]) for i in picks]


def tidy_number(x: float, digits: int = 3) -> str:
    """``x`` with ``digits`` significant digits and no trailing zeros: plain for 1e-3 <= |x| < 1e4 (``"0.5"``,
    ``"0.00125"``, ``"1230"``), else scientific (``"4.06e-8"``, ``"8.48e-4"``, ``"1.5e5"``); ``"0"``, ``"nan"``,
    ``"inf"``, ``"-inf"`` as such."""
    x = float(x)
    if not math.isfinite(x):
        return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")
    if x == 0:
        return "0"
    digits = max(1, int(digits))
    rounded = float(f"{x:.{digits - 1}e}")
    if 1e-3 <= abs(rounded) < 1e4:
        decimals = max(0, digits - 1 - math.floor(math.log10(abs(rounded))))
        return _strip(f"{rounded:.{decimals}f}")
    mantissa, exponent = f"{x:.{digits - 1}e}".split("e")
    return f"{_strip(mantissa)}e{int(exponent)}"


def tidy_labels(values: Sequence[float] | np.ndarray, digits: int = 3) -> list[str]:
    """:func:`tidy_number` of each value, with the fewest digits (at least ``digits``, at most 15) that tell
    neighbours apart: each label lies nearer its own value than half the gap to a distinct neighbour (0.9991 and
    0.9995: ``"0.9991"``, ``"0.9995"``, not ``"0.999"`` and ``"1"``)."""
    values = [float(v) for v in values]
    labels = [tidy_number(v) for v in values]
    for d in range(max(1, int(digits)), 16):
        labels = [tidy_number(v, d) for v in values]
        if all(_apart(values, labels, i) for i in range(len(values))):
            break
    return labels


def _apart(values: list[float], labels: list[str], i: int) -> bool:
    """Whether ``labels[i]`` reads as a number nearer ``values[i]`` than half its gap to each distinct neighbour."""
    gaps = [abs(values[j] - values[i]) for j in (i - 1, i + 1) if 0 <= j < len(values) and values[j] != values[i]]
    if not gaps or not math.isfinite(values[i]):
        return True
    return abs(float(labels[i]) - values[i]) < min(gaps) / 2


def tidy_range(lo: float, hi: float, digits: int = 3) -> str:
    """A range as ``"0.1–0.25"`` (an en dash), with enough digits to tell its ends apart."""
    first, second = tidy_labels([lo, hi], digits)
    return f"{first}–{second}"


# ---------------------------------------------------------------------------------------------- internals
def _strip(text: str) -> str:
    return text.rstrip("0").rstrip(".") if "." in text else text


def _fullest(finite: np.ndarray, edges: np.ndarray) -> float:
    """The share of ``finite`` in the fullest bin (values outside the edges count as in no bin)."""
    counts, _ = np.histogram(finite, bins=edges)
    return float(counts.max()) / finite.size


def _clean(x: float) -> float:
    """``x`` without the binary noise of a decimal computed in floating point (0.30000000000000004: 0.3)."""
    return float(f"{x:.12g}")


def _around(value: float, positive: bool) -> np.ndarray:
    """One bin around a constant (a multiplicative one on a log scale)."""
    if positive:
        low, high = _clean(value / 1.25), _clean(value * 1.25)
    else:
        half = max(0.5, abs(value) * 1e-3)
        low, high = value - half, value + half
    # at the ends of float64 (1.7e308, subnormals) fall back to the nearest representable neighbours
    low = low if math.isfinite(low) and low < value and (low > 0 or not positive) else value
    high = high if math.isfinite(high) and high > value else float(np.nextafter(value, np.inf))
    if not math.isfinite(high):  # the largest float64 itself: the bin ends on it
        low, high = float(np.nextafter(value, -np.inf)), value
    return np.array([low, high])


def _linear_edges(low: float, high: float, bins: int) -> np.ndarray:
    raw = high / bins - low / bins  # no overflow for a range as wide as float64's
    if raw < 4 * math.ulp(max(abs(low), abs(high))) * bins:  # near float64's resolution: plain even steps
        t = np.linspace(0.0, 1.0, bins + 1)
        return _increasing(low * (1.0 - t) + high * t, low, high)
    power = 10.0 ** math.floor(math.log10(raw))
    step = min((s * power for s in _STEPS), key=lambda s: abs(math.log(s / raw)))  # the round step nearest raw
    first, last = math.floor(low / step), math.ceil(high / step)
    if not (math.isfinite(first * step) and math.isfinite(last * step)):  # round edges beyond float64: even steps
        t = np.linspace(0.0, 1.0, bins + 1)
        return _increasing(low * (1.0 - t) + high * t, low, high)
    return _increasing(np.array([_clean(k * step) for k in range(first, max(last, first + 1) + 1)]), low, high)


def _increasing(edges: np.ndarray, low: float, high: float) -> np.ndarray:
    """``edges`` with repeats dropped; ``[low, high]`` when fewer than two distinct edges remain."""
    edges = np.unique(edges[np.isfinite(edges)])
    return edges if edges.size >= 2 else np.array([low, high])


def _log_edges(low: float, high: float, bins: int) -> np.ndarray:
    """Edges at 10^(j / per), ``per`` bins a decade (a whole number, so every decade starts on an edge when there
    are enough bins), rounded short."""
    decades = math.log10(high) - math.log10(low)
    per = max(1, round(bins / decades)) if decades >= 1 else bins / decades
    first, last = math.floor(math.log10(low) * per + 1e-9), math.ceil(math.log10(high) * per - 1e-9)
    raw = np.array([10.0 ** (j / per) for j in range(first, max(last, first + 1) + 1)])
    return _tidy(raw, positive=True)


def _tidy(edges: np.ndarray, *, positive: bool) -> np.ndarray:
    """Each edge moved to the roundest decimal within a quarter of its gaps to its neighbours (the first down, the
    last up, so the range only grows), which keeps the edges strictly increasing; a positive first edge stays > 0."""
    edges = np.asarray(edges, dtype=float)
    if edges.size < 2:
        return edges
    gaps = np.diff(edges)
    out = edges.copy()
    for i, x in enumerate(edges):
        near = [gaps[j] for j in (i - 1, i) if 0 <= j < gaps.size]
        tolerance = 0.25 * min(near)
        mode = "floor" if i == 0 else "ceil" if i == edges.size - 1 else "round"
        if mode == "floor" and positive:
            tolerance = min(tolerance, x / 2)
        out[i] = _round_within(x, tolerance, mode)
    return out


def _round_within(x: float, tolerance: float, mode: str) -> float:
    """The multiple of the largest step 1, 2 or 5 x 10^k not above ``tolerance`` nearest ``x`` (or just below or
    above it, for ``mode`` ``"floor"`` / ``"ceil"``); ``x`` itself when no such step helps."""
    if not tolerance > 0 or not math.isfinite(tolerance):
        return x
    power = 10.0 ** math.floor(math.log10(tolerance))
    step = next(s * power for s in (5.0, 2.0, 1.0) if s * power <= tolerance)
    operation = {"floor": math.floor, "ceil": math.ceil, "round": round}[mode]
    value = _clean(operation(x / step) * step)
    if abs(value - x) > tolerance or (mode == "floor" and value > x) or (mode == "ceil" and value < x):
        return x
    return value


def _cover(edges: np.ndarray, low: float, high: float) -> np.ndarray:
    """``edges`` widened, if need be, to hold ``low`` and ``high`` in float64 and in float32 (the browser's copy)."""
    edges = np.asarray(edges, dtype=float).copy()
    with np.errstate(over="ignore"):
        low32, high32 = float(np.float32(low)), float(np.float32(high))
    if math.isfinite(low32) and (low32 > 0 or low <= 0):  # a positive value stays positive (log scales)
        low = min(low, low32)
    if math.isfinite(high32):
        high = max(high, high32)
    if edges[0] > low:
        edges[0] = low
    if edges[-1] < high:
        edges[-1] = high
    return edges
