"""Bad input to the training-dynamics measures: right/wrong records that are not booleans and data-map thresholds
that are not finite numbers give a ValueError naming the argument, never a silent truth value (issue 18)."""

from __future__ import annotations

import numpy as np
import pytest

from difficulty_widget.measures import (
    data_map,
    first_forgotten,
    first_learned,
    forgetting_events,
    iteration_learned,
    unforgettable,
)

COUNTS = [first_learned, first_forgotten, unforgettable, iteration_learned, forgetting_events]


@pytest.mark.parametrize("measure", COUNTS, ids=lambda f: f.__name__)
@pytest.mark.parametrize(
    "records",
    [
        np.array([[1.0, 0.5], [0.0, 1.0]]),  # 0.5 is neither right nor wrong
        np.array([[2, 0], [1, 1]]),  # 2 is not a truth value
        np.array([["False", "True"], ["True", "True"]]),  # the string 'False' is truthy in numpy's astype(bool)
        np.array([[None, True], [True, False]], dtype=object),
    ],
    ids=["half", "two", "strings", "objects"],
)
def test_non_boolean_records_are_refused(measure, records):
    with pytest.raises(ValueError, match="correct_per_epoch"):
        measure(records)


@pytest.mark.parametrize("measure", COUNTS, ids=lambda f: f.__name__)
def test_zero_one_numbers_equal_booleans(measure):
    records = np.array([[1, 0, 0], [0, 1, 0], [1, 1, 0]])
    got, expected = measure(records), measure(records.astype(bool))
    for a, b in zip(got if isinstance(got, tuple) else [got], expected if isinstance(expected, tuple) else [expected],
                    strict=True):  # fmt: skip
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", ["variability_threshold", "confidence_threshold"])
@pytest.mark.parametrize("value", [float("nan"), float("inf"), True, "0.5"])
def test_data_map_thresholds_must_be_finite_numbers(name, value):
    logits = np.random.default_rng(0).normal(size=(3, 20, 4))
    labels = np.arange(20) % 4
    with pytest.raises(ValueError, match=name):
        data_map(logits, labels, **{name: value})
    assert len(data_map(logits, labels, **{name: 0.3})) == 20
