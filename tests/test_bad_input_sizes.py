"""Sizes that follow the data, not the largest value (issue 18): labels such as 2**40 neither allocate terabytes
nor change a score, and templates of magnitude 1e200 give the cosines of the same templates at magnitude 1."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from difficulty_widget.measures import class_frequency, prediction_depth
from difficulty_widget.measures.data import data_scores
from difficulty_widget.measures.data_quality import data_quality_summary
from difficulty_widget.measures.label_issues import label_issue_summary
from difficulty_widget.semantics import structural_similarity

BIG = 2**40


def test_class_frequency_of_huge_labels_counts_the_classes_present():
    got = class_frequency(np.array([0, BIG, BIG, 7]))
    np.testing.assert_array_equal(got, [0.25, 0.5, 0.5, 0.25])


def test_data_scores_class_frequency_with_huge_labels():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(12, 3))
    y = np.array([0, 1] * 6)
    mask = np.arange(12) < 8
    small = data_scores(x, y, support_mask=mask, k=3)
    huge = data_scores(x, np.where(y == 1, BIG, 5), support_mask=mask, k=3)
    pd.testing.assert_frame_equal(small, huge)
    # a test row whose class never occurs in the support set has frequency 0
    y_missing = np.where(np.arange(12) == 11, 3, y)
    assert data_scores(x, y_missing, support_mask=mask, k=3)["class_frequency"].iloc[-1] == 0.0


def test_prediction_depth_with_huge_labels_equals_the_same_labels_coded_small():
    rng = np.random.default_rng(1)
    support = [rng.normal(size=(20, 4)) for _ in range(3)]
    query = [rng.normal(size=(6, 4)) for _ in range(3)]
    labels = rng.integers(0, 3, 20)
    predictions = rng.integers(0, 3, 6)
    code = np.array([4, BIG, BIG + 9])  # order kept, so a tie still goes to the smaller label
    small = prediction_depth(query, support, labels, predictions, k=5, progress=False, query_labels=predictions)
    huge = prediction_depth(
        query, support, code[labels], code[predictions], k=5, progress=False, query_labels=code[predictions]
    )
    np.testing.assert_array_equal(huge.depth, small.depth)
    np.testing.assert_array_equal(huge.votes, code[small.votes])
    np.testing.assert_array_equal(huge.agreement, small.agreement)


def test_structural_similarity_of_huge_templates_is_their_cosine():
    rng = np.random.default_rng(2)
    w = rng.normal(size=(4, 6))
    cosine = [[sum(a * b for a, b in zip(u, v, strict=True)) / (math.hypot(*u) * math.hypot(*v)) for v in w] for u in w]
    expected = np.array(cosine)
    for scale in (1.0, 1e200, 1e-200):
        np.testing.assert_allclose(structural_similarity(w * scale), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "call",
    [
        lambda y: label_issue_summary(y, np.zeros(len(y), bool), np.full(len(y), np.nan)),
        lambda y: data_quality_summary(
            pd.DataFrame(
                {
                    "label": y,
                    "n_duplicates": 0,
                    "exact_duplicate": False,
                    "leaked": False,
                    "outlier": False,
                    "conflicting_duplicate_labels": False,
                    "duplicate_group": np.nan,
                }
            )
        ),
    ],
    ids=["label_issue_summary", "data_quality_summary"],
)
def test_summaries_refuse_labels_far_beyond_the_rows(call):
    with pytest.raises(ValueError, match=r"label'?\]? go(es)? up to 1099511627776|labels go up to 1099511627776"):
        call(np.array([0, BIG]))


def test_label_issue_scores_refuse_a_label_whose_class_shares_cannot_fit():
    from difficulty_widget.measures.label_issues import label_issue_scores

    x = np.random.default_rng(3).normal(size=(6, 2))
    with pytest.raises(ValueError, match="labels go up to 1099511627776"):
        label_issue_scores(x, np.array([0, 1, 0, 1, 0, BIG]))


def test_more_classes_than_rows_is_fine():
    """ImageNet's 1000 classes on 24 images (a real case, tests/test_real_models.py): no size rule may refuse it."""
    from difficulty_widget.measures.label_issues import label_issue_scores

    y = np.arange(24) * 41  # labels up to 943
    x = np.random.default_rng(4).normal(size=(24, 3))
    scores = label_issue_scores(x, y, k=3)
    assert len(scores) == 24 and scores["suggested_label"].isin(y).all()
    summary = label_issue_summary(y, np.zeros(24, bool), np.full(24, np.nan))
    assert len(summary.per_class) == 944 and summary.per_class["labelled"].sum() == 24
