"""The search seam: the in-process engine as a KnnSearch, and ReusedSearch, which answers a repeated search once.

Neighbours are checked against a float64 brute force written here (distance, then index); reuse is checked by
counting the calls that reach the engine, in isolation and inside ``analyze``, whose data scores and label-issue
flag search the same training neighbours.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import difficulty_widget as dw
from difficulty_widget.extract import extract, make_model
from difficulty_widget.measures import data_quality_scores, find_label_issues, label_issue_scores
from difficulty_widget.measures.data import data_scores
from difficulty_widget.measures.search import ReusedSearch, in_process_search
from difficulty_widget.pipeline.scoring import analysis_from_extraction


def brute_force(query, support, k, exclude_self):
    d = ((query.astype(np.float64)[:, None, :] - support.astype(np.float64)[None]) ** 2).sum(axis=2)
    if exclude_self:
        np.fill_diagonal(d, np.inf)
    return np.array([sorted(range(len(support)), key=lambda j: (row[j], j))[:k] for row in d])


class Counting:
    def __init__(self, search):
        self.search, self.calls = search, []

    def __call__(self, query, support, k, **kwargs):
        self.calls.append((query.shape, support.shape, k, kwargs["exclude_self"]))
        return self.search(query, support, k, **kwargs)


@pytest.mark.parametrize("memory_budget", [None, 64 * 1024])
def test_in_process_search_is_exact(memory_budget):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 4, size=(300, 6)).astype(np.float32)  # many ties: the index decides
    nn = in_process_search(memory_budget)(x, x, 7, exclude_self=True)
    np.testing.assert_array_equal(nn.indices, brute_force(x, x, 7, True))


def test_a_repeated_search_is_answered_from_the_earlier_answer():
    rng = np.random.default_rng(1)
    x, q = rng.normal(size=(200, 5)).astype(np.float32), rng.normal(size=(50, 5)).astype(np.float32)
    engine = Counting(in_process_search())
    search = ReusedSearch(engine, keep=2)
    first = search(x, x, 5, exclude_self=True)
    again = search(x.copy(), x[:], 5, exclude_self=True, precision="fp64")  # equal values, other memory
    assert again is first and len(engine.calls) == 1 and search.reused == 1
    other = search(q, x, 5, exclude_self=False)  # kept beside the first (keep=2)
    assert search(x, x, 5, exclude_self=True) is first and len(engine.calls) == 2
    assert search(q, x, 5, exclude_self=False) is other
    changed = x.copy()
    changed[17, 2] += 1e-3
    for call in [(changed, changed, 5, True), (x, x, 6, True), (x, x, 5, False)]:
        nn = search(call[0], call[1], call[2], exclude_self=call[3])
        np.testing.assert_array_equal(nn.indices, brute_force(call[0], call[1], call[2], call[3]))
    assert len(engine.calls) == 5 and search.calls == 8 and search.reused == 3


def test_analyze_searches_the_training_neighbours_once_for_data_scores_label_issues_and_data_quality(digits):
    data = digits.subset(np.arange(0, 1797, 2))
    model = make_model("cnn", 10, (8, 8), seed=0)
    ext = extract(model, data, probes=["penultimate"], progress=False)
    mask = np.arange(len(data)) < 600
    engine = Counting(in_process_search())
    analysis = analysis_from_extraction(ext, features_probe="penultimate", support_mask=mask, knn_search=engine)
    d = ext.probes["penultimate"].shape[1]
    # the training rows among themselves, the other rows against them (data scores; reused by the label-issue flag
    # and data quality), and the other rows among themselves (data quality's duplicates)
    assert engine.calls == [
        ((600, d), (600, d), 30, True),
        ((299, d), (600, d), 30, False),
        ((299, d), (299, d), 30, True),
    ]
    features = ext.probes["penultimate"]
    for expected in (
        data_scores(features, ext.labels, support_mask=mask),
        label_issue_scores(features, ext.labels, support_mask=mask),
        data_quality_scores(features, ext.labels, support_mask=mask),
    ):
        pd.testing.assert_frame_equal(analysis.df[list(expected.columns)], expected)


def test_analyze_takes_cross_validated_probabilities_for_the_flag():
    data = dw.demo_data("digits")
    model = make_model("cnn", 10, (8, 8), seed=0)
    train = data.split == "train"
    rng = np.random.default_rng(2)
    logits = rng.normal(size=(int(train.sum()), 10))
    logits[np.arange(len(logits)), data.labels[train]] += 3
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    analysis = dw.analyze(model, data, probes=None, pred_probs=probs, progress=False)
    expected = find_label_issues(data.labels[train], probs)
    got = analysis.df.loc[train, list(expected.columns)].reset_index(drop=True)
    np.testing.assert_array_equal(got["label_issue"].to_numpy(bool), expected["label_issue"])
    np.testing.assert_array_equal(got["suggested_label"].to_numpy(np.int64), expected["suggested_label"])
    np.testing.assert_allclose(got["label_issue_score"], expected["label_issue_score"])
    assert analysis.df.loc[~train, "label_issue"].isna().all()
    assert analysis.provenance["label_issue_probabilities"] == "pred_probs (given)"
    nine = probs[:, :9]
    for bad, match in [
        (probs[:-1], "shape"),
        (probs * 2, r"\[0, 1\]|sum to 1"),
        (nine / nine.sum(axis=1, keepdims=True), "shape"),
    ]:
        with pytest.raises(ValueError, match=match):
            dw.analyze(model, data, probes=None, pred_probs=bad, progress=False)
