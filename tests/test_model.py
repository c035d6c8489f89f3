"""model_scores against a per-row Python reference, hypothesis properties, and bad input."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from difficulty_widget.measures import MODEL_SCORE_COLUMNS, model_scores


def reference_row(z: list[float], y: int) -> dict[str, float]:
    """The definitions of DESIGN.md section 3, one row at a time, with Python floats."""
    top = max(z)
    weights = [math.exp(v - top) for v in z]
    total = math.fsum(weights)
    probs = [w / total for w in weights]
    log_probs = [(v - top) - math.log(total) for v in z]
    prediction = z.index(top)  # first maximum
    return {
        "prediction": prediction,
        "correct": prediction == y,
        "confidence": max(probs),
        "true_prob": probs[y],
        "margin": z[y] - max(v for c, v in enumerate(z) if c != y),
        "entropy": -math.fsum(p * lp for p, lp in zip(probs, log_probs, strict=True)),
        "loss": -log_probs[y],
    }


def reference(logits: np.ndarray, labels: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame([reference_row(list(map(float, z)), int(y)) for z, y in zip(logits, labels, strict=True)])


def assert_matches_reference(logits: np.ndarray, labels: np.ndarray) -> None:
    got, want = model_scores(logits, labels), reference(logits, labels)
    assert list(got.columns) == list(MODEL_SCORE_COLUMNS)
    np.testing.assert_array_equal(got["prediction"], want["prediction"])
    np.testing.assert_array_equal(got["correct"], want["correct"])
    for column in ("confidence", "true_prob", "margin", "entropy", "loss"):
        np.testing.assert_allclose(got[column], want[column], rtol=1e-10, atol=1e-12, err_msg=column)


def test_matches_reference_on_random_logits():
    rng = np.random.default_rng(1)
    logits = rng.normal(scale=3.0, size=(500, 7))
    labels = rng.integers(0, 7, size=500)
    assert_matches_reference(logits, labels)


def test_matches_reference_on_extreme_logits_where_naive_softmax_overflows():
    rng = np.random.default_rng(2)
    logits = rng.choice([1e4, -1e4, 0.0, 5e3, 1e4 - 1.0], size=(200, 5))
    labels = rng.integers(0, 5, size=200)
    with np.errstate(over="ignore", invalid="ignore"):
        naive = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert not np.isfinite(naive).all()  # the naive formula breaks here ...
    scores = model_scores(logits, labels)
    assert np.isfinite(scores[["confidence", "true_prob", "margin", "entropy", "loss"]].to_numpy()).all()
    assert_matches_reference(logits, labels)  # ... ours does not


def test_dtypes_and_order_and_torch_input():
    logits = torch.tensor([[2.0, 1.0, 0.0], [0.0, 0.0, 5.0]], dtype=torch.float32)
    scores = model_scores(logits, torch.tensor([0, 1]))
    assert scores["prediction"].dtype == np.int64 and scores["correct"].dtype == bool
    assert all(scores[c].dtype == np.float64 for c in ("confidence", "true_prob", "margin", "entropy", "loss"))
    assert scores["prediction"].tolist() == [0, 2] and scores["correct"].tolist() == [True, False]
    assert scores["margin"].tolist() == [1.0, -5.0]


def test_argmax_ties_go_to_the_lower_class():
    scores = model_scores(np.array([[1.0, 3.0, 3.0], [0.0, 0.0, 0.0]]), np.array([2, 0]))
    assert scores["prediction"].tolist() == [1, 0]
    assert scores["margin"].tolist() == [0.0, 0.0]
    assert scores["entropy"][1] == pytest.approx(math.log(3))
    assert scores["confidence"][1] == pytest.approx(1 / 3)


def test_many_rows_are_chunked_consistently(monkeypatch):
    import difficulty_widget.measures.model as model_module

    rng = np.random.default_rng(3)
    logits, labels = rng.normal(size=(1000, 10)), rng.integers(0, 10, 1000)
    whole = model_scores(logits, labels)
    monkeypatch.setattr(model_module, "_CHUNK_VALUES", 70)  # 7 rows per chunk
    pd.testing.assert_frame_equal(model_scores(logits, labels), whole)


finite_logits = st.integers(2, 8).flatmap(
    lambda c: arrays(
        np.float64, st.tuples(st.integers(1, 30), st.just(c)), elements=st.floats(-1e4, 1e4, allow_nan=False)
    )
)


@settings(max_examples=150, deadline=None)
@given(finite_logits, st.randoms(use_true_random=False))
def test_properties(logits, rnd):
    n, c = logits.shape
    labels = np.array([rnd.randrange(c) for _ in range(n)])
    scores = model_scores(logits, labels)
    assert ((scores["confidence"] >= 1 / c - 1e-12) & (scores["confidence"] <= 1)).all()
    assert ((scores["entropy"] >= 0) & (scores["entropy"] <= math.log(c) + 1e-12)).all()
    assert ((scores["true_prob"] >= 0) & (scores["true_prob"] <= 1)).all()
    assert (scores["loss"] >= 0).all()
    # margin > 0 iff correct, when the top logit is unique
    top_two = np.sort(logits, axis=1)[:, -2:]
    unique_top = top_two[:, 1] > top_two[:, 0]
    assert ((scores["margin"] > 0) == scores["correct"])[unique_top].all()
    # permuting rows permutes outputs
    perm = np.array(rnd.sample(range(n), n))
    permuted = model_scores(logits[perm], labels[perm])
    pd.testing.assert_frame_equal(permuted, scores.iloc[perm].reset_index(drop=True))


@pytest.mark.parametrize(
    ("logits", "labels", "message"),
    [
        (np.zeros(5), np.zeros(5, int), "logits must be a 2-D array"),
        (np.zeros((0, 3)), np.zeros(0, int), "logits is empty"),
        (np.zeros((4, 1)), np.zeros(4, int), "at least 2 classes"),
        (np.array([[0.0, np.nan]]), np.array([0]), "NaN or infinite"),
        (np.array([[0.0, np.inf]]), np.array([0]), "NaN or infinite"),
        (np.zeros((3, 2)), np.zeros(4, int), "labels has length 4, expected 3"),
        (np.zeros((3, 2)), np.array([0, 1, 2]), r"labels must lie in \[0, 2\)"),
        (np.zeros((3, 2)), np.array([0, -1, 1]), r"labels must lie in \[0, 2\)"),
        (np.zeros((3, 2)), np.array([0.0, 1.0, 1.0]), "labels must hold integer class indices"),
        (np.zeros((3, 2)), np.zeros((3, 1), int), "labels must be a 1-D array"),
        (np.array([["a", "b"]]), np.array([0]), "logits must be numeric"),
    ],
)
def test_bad_input_raises_value_error_naming_the_argument(logits, labels, message):
    with pytest.raises(ValueError, match=message):
        model_scores(logits, labels)
