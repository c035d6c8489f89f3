"""The cost model: bytes and flop per probe, against the arithmetic written out here."""

from __future__ import annotations

import pytest

from difficulty_widget.pipeline.cost import run_cost, seconds


def test_storage_and_flop_per_probe():
    costs = {c.name: c for c in run_cost({"block": 10, "penultimate": 4}, 100, 20, features="penultimate")}
    assert costs["block"].storage_bytes == 4 * 10 * 120  # float32 rows, training and test
    assert costs["block"].knn_flop == 2 * 10 * 120 * 100  # every row against the 100 training rows
    assert costs["penultimate"].knn_flop == 2 * (2 * 4 * 120 * 100)  # depth and the data scores
    assert seconds(6e12, 1e12, workers=3) == 2.0


def test_imagenet_penultimate_probe_is_what_the_issue_says():
    (cost,) = run_cost({"penultimate": 2048}, 1_281_167, 50_000)
    assert cost.storage_bytes / 1e9 == pytest.approx(10.9, abs=0.05)
    assert cost.knn_flop == pytest.approx(6.98e15, rel=1e-3)


def test_bad_sizes_are_refused():
    with pytest.raises(ValueError, match="n_support must be positive"):
        run_cost({"a": 1}, 0, 5)
    with pytest.raises(ValueError, match="rate must be positive"):
        seconds(1.0, 0.0)
