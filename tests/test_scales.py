"""Histogram scales and tidy numbers (difficulty_widget.scales): skewed scores are not drawn as one bar, edges are
valid for any input, and labels are short. Expected values are written out or counted here with numpy."""

from __future__ import annotations

import numpy as np
import pytest

from difficulty_widget import scales
from difficulty_widget.widget.charts import bin_labels

RNG = np.random.default_rng(0)
N = 20_000
#: A trained model's losses: most tiny (spanning decades), a tail of hard instances.
LOSS = np.concatenate([np.exp(RNG.normal(-7.0, 2.5, int(N * 0.9))), RNG.exponential(2.0, N - int(N * 0.9))])
#: Its confidences: most within 1e-3 of 1, 30% exactly 1.0 (as float32 rounds them), a few low ones.
CONFIDENCE = np.concatenate([1 - np.exp(RNG.normal(-7.0, 2.0, int(N * 0.65))), np.ones(int(N * 0.3)),
                             RNG.uniform(0.1, 0.9, N - int(N * 0.65) - int(N * 0.3))])  # fmt: skip


def fullest(values: np.ndarray, edges: np.ndarray) -> float:
    counts, _ = np.histogram(values, bins=edges)
    return counts.max() / len(values)


def equal_width_fullest(values: np.ndarray, bins: int = 40) -> float:
    return fullest(values, np.linspace(values.min(), values.max(), bins + 1))


def check_edges(edges: np.ndarray, values: np.ndarray) -> None:
    """float64, strictly increasing, and every finite value (as float64 and as float32) inside."""
    finite = values[np.isfinite(values)]
    assert edges.dtype == np.float64 and edges.ndim == 1 and len(edges) >= 2
    assert np.all(np.diff(edges) > 0)
    for v in (finite, finite.astype(np.float32).astype(float)):
        assert edges[0] <= v.min() and v.max() <= edges[-1]


def test_a_trained_models_losses_get_a_log_scale_and_no_bar_holds_most_of_them():
    assert equal_width_fullest(LOSS) > 0.8  # the problem: equal-width bins put nearly all in the first bar
    assert scales.histogram_scale(LOSS) == "log"
    edges = scales.histogram_bins(LOSS)
    check_edges(edges, LOSS)
    assert fullest(LOSS, edges) <= 0.35
    ratios = edges[1:-1] / edges[:-2]
    assert ratios.min() > 1.2 and ratios.max() / ratios.min() < 1.5  # about equal steps in log10
    assert 30 <= len(edges) - 1 <= 50


def test_an_exponential_sample_is_spread_whichever_scale_is_chosen():
    loss = RNG.exponential(1.0, N)
    edges = scales.histogram_bins(loss, scale=scales.histogram_scale(loss))
    check_edges(edges, loss)
    assert fullest(loss, edges) <= 0.35


def test_confidences_piled_at_one_get_quantile_bins_the_pile_in_a_narrow_last_bin():
    assert equal_width_fullest(CONFIDENCE) > 0.9
    assert scales.histogram_scale(CONFIDENCE) == "quantile"  # positive, but not spanning decades: not log
    edges = scales.histogram_bins(CONFIDENCE)
    check_edges(edges, CONFIDENCE)
    assert edges[-1] == 1.0
    assert fullest(CONFIDENCE, edges) <= 0.35  # the 30% at exactly 1.0 cannot be split; nothing else piles up
    counts, _ = np.histogram(CONFIDENCE, bins=edges)
    assert counts.argmax() == len(counts) - 1 and edges[-2] > 0.999  # the pile's bin is narrow
    assert np.sort(counts)[-2] / N < 0.06  # the other bins hold about equal shares


def test_a_pile_on_one_exact_value_stays_linear_when_no_edge_can_split_it():
    values = np.where(RNG.random(N) < 0.7, 0.0, 1.0)  # 70% zeros, 30% ones
    assert scales.histogram_scale(values) == "linear"
    edges = scales.histogram_bins(values)
    check_edges(edges, values)
    assert fullest(values, edges) == pytest.approx(np.mean(values == 0))


def test_spread_values_stay_linear_on_a_round_step():
    values = RNG.normal(size=N)
    assert scales.histogram_scale(values) == "linear"
    edges = scales.histogram_bins(values)
    check_edges(edges, values)
    steps = np.diff(edges)
    assert np.allclose(steps, steps[0]) and round(steps[0], 12) in (0.1, 0.2, 0.25, 0.5)
    assert np.allclose(edges / steps[0], np.round(edges / steps[0]))  # multiples of the step


def test_the_scale_can_be_set():
    linear = scales.histogram_bins(LOSS, scale="linear")
    assert np.allclose(np.diff(linear), np.diff(linear)[0])
    quantile = scales.histogram_bins(LOSS, 20, scale="quantile")
    counts, _ = np.histogram(LOSS, bins=quantile)
    assert counts.min() > 0.03 * N and counts.max() < 0.07 * N  # about N / 20 each
    log = scales.histogram_bins(RNG.uniform(1, 2, 100), scale="log")
    assert np.all(np.diff(np.log10(log)) > 0) and len(log) > 20
    for auto in (None, "auto"):
        assert np.array_equal(scales.histogram_bins(LOSS, scale=auto), scales.histogram_bins(LOSS, scale="log"))
    with pytest.raises(ValueError, match="scale must be one of"):
        scales.histogram_bins(LOSS, scale="sqrt")
    for bins in (0, 10**10, 2.5, True):
        with pytest.raises(ValueError, match=r"bins must be an integer in \[1, 10000\]"):
            scales.histogram_bins(LOSS, bins=bins)


@pytest.mark.parametrize(
    "values",
    [
        [1.0, float(np.nextafter(1.0, 2.0))],  # a range at float64's resolution
        [-1.7e308, 1.7e308],  # a range wider than float64 (its width overflows)
        [-1.7e308, 0.0, 1.7e308],
        [5e-324, 1e-323],  # subnormals
        [1e-300, 1e-295, 1e-290],
    ],
)
@pytest.mark.parametrize("scale", ["linear", "quantile", "log", None])
def test_edges_at_the_ends_of_float64_are_increasing_and_cover_the_values(values, scale):
    finite = np.asarray(values)
    if scale == "log" and not (finite > 0).any():
        return
    edges = scales.histogram_bins(values, scale=scale)
    covered = finite[finite > 0] if scale == "log" else finite
    assert np.isfinite(edges).all() and (np.diff(edges) > 0).all(), edges
    assert edges[0] <= covered.min() and edges[-1] >= covered.max()
    counts, _ = np.histogram(covered, bins=edges)
    assert counts.sum() == covered.size


def test_a_log_scale_leaves_out_values_at_or_below_zero():
    values = np.array([-1.0, 0.0, 1e-6, 1e-3, 1.0, 10.0])
    edges = scales.histogram_bins(values, scale="log")
    assert edges[0] > 0 and edges[0] <= 1e-6 and edges[-1] >= 10
    counts, _ = np.histogram(values, bins=edges)
    assert counts.sum() == 4
    with pytest.raises(ValueError, match="positive"):
        scales.histogram_bins([-1.0, 0.0], scale="log")
    assert scales.histogram_scale(values) != "log"  # never chosen with values <= 0


@pytest.mark.parametrize("scale", [None, "linear", "log", "quantile"])
def test_constant_values_get_one_bin_around_them(scale):
    edges = scales.histogram_bins(np.full(50, 0.3), scale=scale)
    assert len(edges) == 2 and edges[0] < 0.3 < edges[1]
    assert scales.histogram_bins([7.0], scale=scale)[0] < 7.0
    if scale == "log":
        assert edges[0] > 0


def test_nan_and_infinities_are_ignored_and_nothing_finite_is_an_error():
    values = np.array([np.nan, np.inf, -np.inf, 1.0, 2.0, 3.0])
    edges = scales.histogram_bins(values)
    assert np.array_equal(edges, scales.histogram_bins([1.0, 2.0, 3.0]))
    check_edges(edges, values)
    assert scales.histogram_scale([np.nan, np.inf]) == "linear"
    for nothing in ([], [np.nan, np.nan], [np.inf, -np.inf]):
        with pytest.raises(ValueError, match="no finite values"):
            scales.histogram_bins(nothing)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("scale", [None, "linear", "log", "quantile"])
def test_edges_are_valid_for_odd_samples(seed, scale):
    rng = np.random.default_rng(seed)
    samples = [
        rng.integers(0, 4, 200).astype(float),  # few distinct values, many ties
        np.exp(rng.normal(0, 8, 300)),  # dozens of decades
        rng.normal(1e6, 1e-3, 100),  # a narrow range far from zero
        np.float32(rng.random(500)).astype(float) ** 6,
        np.concatenate([np.zeros(400), rng.random(5)]),
    ]
    for values in samples:
        if scale == "log" and not (values > 0).any():
            continue
        edges = scales.histogram_bins(values, scale=scale)
        check_edges(edges, values[values > 0] if scale == "log" else values)
        assert len(edges) - 1 <= 60


def test_log_axis_ticks_are_powers_of_ten():
    edges = scales.histogram_bins(LOSS, scale="log")
    ticks = scales.axis_ticks(edges, "log")
    assert all(edges[0] <= t <= edges[-1] for t in ticks) and len(ticks) <= 6
    assert [np.log10(t) for t in ticks] == pytest.approx(np.round(np.log10(ticks)))
    linear = scales.axis_ticks([0, 1, 2, 3], "linear")
    assert linear == [0, 1, 2, 3]


@pytest.mark.parametrize(
    ("x", "text"),
    [
        (0.000848, "8.48e-4"),
        (4.06e-8, "4.06e-8"),
        (0.5, "0.5"),
        (0.125, "0.125"),
        (0.001, "0.001"),
        (0.0009996, "0.001"),  # rounds up into the plain range
        (1.0, "1"),
        (-0.25, "-0.25"),
        (1234.5, "1230"),
        (12345.0, "1.23e4"),
        (150000.0, "1.5e5"),
        (0.0, "0"),
        (float("nan"), "nan"),
        (float("-inf"), "-inf"),
    ],
)
def test_tidy_number(x, text):
    assert scales.tidy_number(x) == text


def test_tidy_labels_and_ranges_tell_close_values_apart():
    assert scales.tidy_number(0.12345, digits=2) == "0.12"
    assert scales.tidy_range(0.1, 0.25) == "0.1–0.25"
    assert scales.tidy_range(0.9991, 0.9995) == "0.9991–0.9995"  # not "0.999–1"
    assert scales.tidy_labels([0.99, 0.999, 0.9999, 1.0]) == ["0.99", "0.999", "0.9999", "1"]
    assert scales.tidy_labels([2.0, 2.0]) == ["2", "2"]


def test_bin_labels_of_the_pattern_heatmap_are_tidy():
    assert bin_labels([4.06e-08, 0.000848, 0.5, 1.0]) == ["4.06e-8–8.48e-4", "8.48e-4–0.5", "0.5–1"]
    assert bin_labels([0.9991, 0.9995, 1.0]) == ["0.9991–0.9995", "0.9995–1"]
