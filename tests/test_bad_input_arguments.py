"""Bad arguments to the measures (issue 18, second pass): flags that are not booleans, seeds, thresholds and
percentiles that are not finite real numbers, one string where a list of names belongs, arrays of complex numbers
or text, a k that is not a positive integer, an unknown device, and features whose squared distances leave
float64's range. Each gives a ValueError or TypeError that names the argument, before any work; inputs that can be
computed exactly (GraNd of 1e200 features) are."""

from __future__ import annotations

import numpy as np
import pytest

from difficulty_widget import measures
from difficulty_widget.measures import data as data_measures
from difficulty_widget.measures.knn import majority_vote
from difficulty_widget.semantics import edge_compliance, group_classes

RNG = np.random.default_rng(0)
N, C = 12, 3
LABELS = np.arange(N) % C
LOGITS = RNG.normal(size=(N, C))
PROBS = np.exp(LOGITS) / np.exp(LOGITS).sum(axis=1, keepdims=True)
FEATURES = RNG.normal(size=(N, 4))
PER_EPOCH = RNG.normal(size=(3, N, C))
CORRECT = RNG.random((3, N)) > 0.5
SIMILARITY = np.corrcoef(RNG.normal(size=(4, 6)))
NOT_BOOLS = [0.5, 1, "False", None, np.array([True])]

FLAGS = {
    "use_logits": lambda v: measures.mistakenness(LOGITS, LABELS, use_logits=v),
    "rank_never_learned": lambda v: measures.forgetting_events(CORRECT, rank_never_learned=v),
    "normalize": lambda v: measures.variance_of_gradients(RNG.normal(size=(2, N, 5)), LABELS, normalize=v),
    "bias": lambda v: measures.grand_last_layer(LOGITS, FEATURES, LABELS, bias=v),
    "calibrate": lambda v: measures.find_label_issues(LABELS, PROBS, calibrate=v),
    "exact_distances": lambda v: measures.nearest_neighbours(FEATURES, FEATURES, 2, exact_distances=v),
    "exclude_self": lambda v: measures.prediction_depth(
        [FEATURES], [FEATURES], LABELS, LABELS, k=3, exclude_self=v, progress=False
    ),
    "positive_only": lambda v: edge_compliance(SIMILARITY, SIMILARITY, 1, positive_only=v),
}


@pytest.mark.parametrize("value", NOT_BOOLS, ids=repr)
@pytest.mark.parametrize("name", sorted(FLAGS))
def test_flags_take_only_booleans(name, value):
    if name == "exclude_self" and value is None:
        pytest.skip("exclude_self also takes None (nothing excluded) or per-row support indices")
    with pytest.raises((TypeError, ValueError), match=name):
        FLAGS[name](value)


@pytest.mark.parametrize("name", sorted(FLAGS))
def test_flags_still_take_booleans(name):
    FLAGS[name](True)
    FLAGS[name](np.bool_(False))


SEEDED = {
    "threshold_sample_labels": lambda s: measures.threshold_sample_labels(LABELS, C, seed=s),
    "kappa_bootstrap_ci": lambda s: measures.kappa_bootstrap_ci(CORRECT[0], CORRECT[1], n_boot=10, seed=s),
    "model_human_alignment": lambda s: measures.model_human_alignment(
        FEATURES[:, 0], FEATURES[:, 1], n_boot=10, seed=s
    ),
    "error_consistency_report": lambda s: measures.error_consistency_report(CORRECT, n_shuffles=5, seed=s),
    "group_classes": lambda s: group_classes(SIMILARITY, seed=s),
}


@pytest.mark.parametrize("seed", [-1, 0.5, "1", True, 2**64])
@pytest.mark.parametrize("name", sorted(SEEDED))
def test_seeds_must_be_non_negative_integers(name, seed):
    with pytest.raises(ValueError, match="seed must be None or an integer"):
        SEEDED[name](seed)


NUMBERS = {
    "percentile": lambda v: measures.aum_threshold(np.arange(5.0), percentile=v),
    "threshold": lambda v: measures.aum_mislabelled(np.arange(5.0), threshold=v),
    "fraction": lambda v: measures.threshold_sample_labels(LABELS, C, fraction=v),
    "aleatoric_percentile": lambda v: measures.data_iq(PER_EPOCH, LABELS, aleatoric_percentile=v),
    "confidence_thresholds": lambda v: measures.data_iq(PER_EPOCH, LABELS, confidence_thresholds=(v, 0.9)),
}


@pytest.mark.parametrize("value", [float("nan"), float("inf"), True, "0.5", [0.5], None], ids=repr)
@pytest.mark.parametrize("name", sorted(NUMBERS))
def test_thresholds_are_finite_real_numbers(name, value):
    if name == "fraction" and value is None:
        pytest.skip("fraction=None is the default: N / (C + 1) threshold samples")
    with pytest.raises((TypeError, ValueError), match=name):
        NUMBERS[name](value)


@pytest.mark.parametrize("pair", [0.5, (0.1, 0.2, 0.3), "ab", (0.9, 0.1)], ids=repr)
def test_confidence_thresholds_are_an_ordered_pair(pair):
    with pytest.raises(ValueError, match="confidence_thresholds"):
        measures.data_iq(PER_EPOCH, LABELS, confidence_thresholds=pair)


@pytest.mark.parametrize("undefined", [True, "x", None])
def test_the_value_for_an_undefined_kappa_is_a_real_number(undefined):
    with pytest.raises(TypeError, match="undefined"):
        measures.error_consistency(CORRECT[0], CORRECT[1], undefined=undefined)
    with pytest.raises(TypeError, match="undefined"):
        measures.error_consistency_matrix(CORRECT, undefined=undefined)


def test_a_nan_kappa_for_undefined_pairs_is_allowed():
    always = np.ones((2, N), dtype=bool)
    assert np.isnan(measures.error_consistency(always[0], always[1], undefined=float("nan")))


def test_aum_with_nan_values_is_refused_not_left_unflagged():
    with pytest.raises(ValueError, match="aum contains 1 NaN"):
        measures.aum_mislabelled(np.array([0.0, np.nan, 1.0]), threshold=0.5)


@pytest.mark.parametrize(
    "values",
    [np.array(["a", "b"]), np.array([1 + 1j, 2]), np.array([None, 1.0], dtype=object), np.array([True, False])],
    ids=["text", "complex", "objects", "booleans"],
)
def test_aum_values_are_real_numbers(values):
    with pytest.raises(TypeError, match="aum"):
        measures.aum_mislabelled(values, threshold=0.0)
    with pytest.raises(TypeError, match="aum_values_of_threshold_samples"):
        measures.aum_threshold(values)


@pytest.mark.parametrize("dtype", [complex, object, str, bool])
@pytest.mark.parametrize("measure", [measures.area_under_margin, measures.mean_loss, measures.data_iq])
def test_logits_per_epoch_are_real_numbers(measure, dtype):
    with pytest.raises(ValueError, match="logits_per_epoch must hold real numbers"):
        measure(PER_EPOCH.astype(dtype), LABELS)


def test_complex_model_scores_are_refused():
    with pytest.raises(ValueError, match="model_score must hold real numbers"):
        measures.model_human_alignment(FEATURES[:, 0] + 1j, FEATURES[:, 1], n_boot=10)


def test_one_string_is_not_a_list_of_names():
    with pytest.raises(TypeError, match="class_names must be a list of strings"):
        measures.model_human_alignment(FEATURES[:, 0], FEATURES[:, 1], LABELS, n_boot=10, class_names="abc")
    with pytest.raises(TypeError, match="names must be a list"):
        measures.error_consistency_matrix(CORRECT, names="abc")


@pytest.mark.parametrize("k", [-3, 0, 0.5, "3", True])
def test_k_is_a_positive_integer(k):
    with pytest.raises(ValueError, match="k must be a positive integer"):
        data_measures.data_scores(FEATURES, LABELS, k=k)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        measures.label_issue_scores(FEATURES, LABELS, pred_probs=PROBS, k=k)


@pytest.mark.parametrize("device", ["gpu0", "cuda:x", 5])
def test_an_unknown_device_is_named(device):
    with pytest.raises((TypeError, ValueError), match="device must be"):
        measures.nearest_neighbours(FEATURES, FEATURES, 2, device=device)


def test_neighbour_labels_beyond_the_classes_are_named():
    with pytest.raises(ValueError, match=r"neighbour_labels must lie in \[0, n_classes=3\)"):
        majority_vote(np.array([[0, 5]]), np.array([[0.0, 1.0]]), 3)


@pytest.mark.parametrize("scale", [1e200, 1e-200])
@pytest.mark.parametrize(
    "measure",
    [
        lambda x: measures.knn_label_agreement(x, LABELS, k=3),
        lambda x: measures.local_density(x, k=3),
        lambda x: measures.centroid_distance(x, LABELS),
        lambda x: measures.nearest_neighbours(x, x, 3, exclude_self=True),
    ],
    ids=["knn_label_agreement", "local_density", "centroid_distance", "nearest_neighbours"],
)
def test_features_whose_squared_distances_leave_float64_are_refused(measure, scale):
    with pytest.raises(ValueError, match="squared distances between such vectors leave float64's range"):
        measure(FEATURES * scale)


def test_features_just_inside_the_range_give_the_same_neighbours_as_unit_ones():
    # a power of two scales every distance exactly: the neighbour sets and their order cannot change
    unit = measures.nearest_neighbours(FEATURES, FEATURES, 3, exclude_self=True)
    big = measures.nearest_neighbours(FEATURES * 2.0**400, FEATURES * 2.0**400, 3, exclude_self=True)
    np.testing.assert_array_equal(unit.indices, big.indices)


def test_grand_of_huge_and_tiny_features_is_computed_not_refused():
    h = FEATURES.astype(np.float64)
    # ||p - e_y|| ||h||: brute force in exact rational scaling (the norm is homogeneous of degree 1)
    error = np.linalg.norm(PROBS - np.eye(C)[LABELS], axis=1)
    expected = error * np.sqrt((h * h).sum(axis=1))
    for scale in (1e200, 1e-200):
        got = measures.grand_last_layer(LOGITS, h * scale, LABELS, bias=False)
        np.testing.assert_allclose(got / scale, expected, rtol=1e-12)
    np.testing.assert_allclose(
        measures.grand_last_layer(LOGITS, h * 1e200, LABELS), error * np.sqrt((h * h).sum(axis=1)) * 1e200, rtol=1e-12
    )


@pytest.mark.parametrize(
    "flags, match",
    [
        (np.array(["False", "True"] * (N // 2), dtype=object), "label_issue must hold True / False"),
        (np.full(N, 0.2), "label_issue must hold True / False"),
    ],
    ids=["strings", "fractions"],
)
def test_label_issue_flags_are_booleans(flags, match):
    with pytest.raises(TypeError, match=match):
        measures.label_issue_summary(LABELS, flags, LABELS)


def test_suggested_labels_are_whole_class_indices_and_n_classes_positive():
    flags = np.zeros(N, dtype=bool)
    flags[0] = True
    with pytest.raises(ValueError, match=r"suggested_label must hold whole class indices, got 1\.7"):
        measures.label_issue_summary(LABELS, flags, np.where(flags, 1.7, 0.0))
    with pytest.raises(ValueError, match="n_classes must be a positive integer"):
        measures.label_issue_summary(LABELS, flags, LABELS, n_classes=-3)


def test_human_counts_beyond_exact_float64_integers_are_refused():
    with pytest.raises(ValueError, match=r"counts holds values above 2\*\*53"):
        measures.human_scores(np.array([[1e308, 1e308, 0.0], [3.0, 1.0, 0.0]]))


@pytest.mark.parametrize(
    "call",
    [
        lambda: measures.kappa_bootstrap_ci(CORRECT[0], CORRECT[1], n_boot=10**12),
        lambda: measures.model_human_alignment(FEATURES[:, 0], FEATURES[:, 1], n_boot=10**12),
        lambda: measures.error_consistency_report(CORRECT, n_shuffles=10**12),
    ],
    ids=["kappa_bootstrap_ci", "model_human_alignment", "error_consistency_report"],
)
def test_resamples_are_bounded_before_any_work(call):
    with pytest.raises(ValueError, match=r"(n_boot|n_shuffles) must be at most 1,000,000"):
        call()
