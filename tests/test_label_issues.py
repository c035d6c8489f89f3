"""The label-issue flag: confident learning (Northcutt, Jiang, Chuang, JAIR 2021) on one run's probabilities.

The thresholds, the confident joint and its calibration are checked against a direct, per-row implementation of
the paper's equations 1-3 written here, on a hand-made case whose counts are also worked out by hand; the flag
against its definition; the registry adapter against the pieces; and the flag on real noise: Fashion-MNIST with 5%
of the labels flipped to random other classes (seeded), one training run of the small CNN (3 epochs).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import softmax

from difficulty_widget.measures import (
    calibrate_confident_joint,
    confident_joint,
    estimated_label_errors,
    find_label_issues,
    label_issue_scores,
    label_issue_summary,
    per_class_thresholds,
    registry,
)
from difficulty_widget.measures.label_issues import (
    confident_guess,
    ensemble_label_issue_scores,
    knn_class_probabilities,
    mean_softmax,
)

# eight instances, three classes: rows are p(class | x), out of sample
HAND_PROBS = np.array(
    [
        [0.80, 0.10, 0.10],  # labelled 0, confidently 0
        [0.60, 0.30, 0.10],  # labelled 0, 0 at its threshold
        [0.10, 0.80, 0.10],  # labelled 0, confidently 1: a label error 0 -> 1
        [0.20, 0.70, 0.10],  # labelled 1
        [0.30, 0.50, 0.20],  # labelled 1, no class at its threshold
        [0.05, 0.15, 0.80],  # labelled 2
        [0.10, 0.20, 0.70],  # labelled 2
        [0.70, 0.10, 0.20],  # labelled 2, confidently 0: a label error 2 -> 0
    ]
)
HAND_LABELS = np.array([0, 0, 0, 1, 1, 2, 2, 2])
# t_0 = (0.8 + 0.6 + 0.1) / 3 = 0.5, t_1 = (0.7 + 0.5) / 2 = 0.6, t_2 = (0.8 + 0.7 + 0.2) / 3 = 0.5667
HAND_THRESHOLDS = np.array([0.5, 0.6, 1.7 / 3])
HAND_JOINT = np.array([[2, 1, 0], [0, 1, 0], [1, 0, 2]])  # row 4 (labelled 1) has no class at threshold


def paper_thresholds(labels, probs):
    """Eq. 1: t_j = (1 / |X_{y~=j}|) sum over x in X_{y~=j} of p_j(x), one class at a time."""
    t = []
    for j in range(probs.shape[1]):
        members = [probs[i, j] for i in range(len(labels)) if labels[i] == j]
        t.append(sum(members) / len(members))
    return np.array(t)


def paper_joint(labels, probs, t):
    """Eq. 2: C[i][j] = |{x labelled i : p_j(x) >= t_j, j = argmax over l with p_l(x) >= t_l of p_l(x)}|."""
    c = np.zeros((probs.shape[1], probs.shape[1]), dtype=int)
    for row in range(len(labels)):
        above = [cls for cls in range(probs.shape[1]) if probs[row, cls] >= t[cls]]
        if above:
            best = max(above, key=lambda cls: (probs[row, cls], -cls))
            c[labels[row], best] += 1
    return c


def paper_calibration(c, labels):
    """Eq. 3: C~[i][j] = C[i][j] / sum_j C[i][j] * |X_{y~=i}|, then scaled to sum to N (= n Q)."""
    n_classes = len(c)
    out = np.zeros((n_classes, n_classes))
    for i in range(n_classes):
        row = sum(c[i])
        for j in range(n_classes):
            out[i, j] = c[i, j] / row * list(labels).count(i) if row else 0.0
    return out / out.sum() * len(labels)


def random_case(seed, n=300, n_classes=5):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_classes, n)
    labels[:n_classes] = np.arange(n_classes)  # every class present
    logits = rng.normal(size=(n, n_classes)) * 2
    logits[np.arange(n), labels] += 2.0
    return labels, softmax(logits, axis=1)


def test_thresholds_and_joint_on_the_hand_made_case():
    np.testing.assert_allclose(per_class_thresholds(HAND_LABELS, HAND_PROBS), HAND_THRESHOLDS, rtol=1e-12)
    np.testing.assert_allclose(paper_thresholds(HAND_LABELS, HAND_PROBS), HAND_THRESHOLDS, rtol=1e-12)
    np.testing.assert_array_equal(confident_joint(HAND_LABELS, HAND_PROBS), HAND_JOINT)
    np.testing.assert_array_equal(paper_joint(HAND_LABELS, HAND_PROBS, HAND_THRESHOLDS), HAND_JOINT)
    np.testing.assert_array_equal(confident_guess(HAND_LABELS, HAND_PROBS), [0, 0, 1, 1, -1, 2, 2, 0])
    # calibration by hand: rows (2, 1, 0 | 0, 1, 0 | 1, 0, 2) scaled to the label counts (3, 2, 3), total 8
    expected = np.array([[2.0, 1.0, 0.0], [0.0, 2.0, 0.0], [1.0, 0.0, 2.0]])
    np.testing.assert_allclose(calibrate_confident_joint(HAND_JOINT, HAND_LABELS), expected, rtol=1e-12)
    np.testing.assert_allclose(paper_calibration(HAND_JOINT, HAND_LABELS), expected, rtol=1e-12)
    np.testing.assert_allclose(estimated_label_errors(HAND_LABELS, HAND_PROBS), [1, 0, 1])
    np.testing.assert_allclose(estimated_label_errors(HAND_LABELS, HAND_PROBS, calibrate=True), [1, 0, 1])


@pytest.mark.parametrize("seed", range(5))
def test_joint_and_calibration_match_the_paper_on_random_cases(seed):
    labels, probs = random_case(seed)
    t = paper_thresholds(labels, probs)
    np.testing.assert_allclose(per_class_thresholds(labels, probs), t, rtol=1e-12)
    c = paper_joint(labels, probs, t)
    np.testing.assert_array_equal(confident_joint(labels, probs), c)
    np.testing.assert_allclose(calibrate_confident_joint(c, labels), paper_calibration(c, labels), rtol=1e-12)
    np.testing.assert_allclose(estimated_label_errors(labels, probs), c.sum(axis=1) - np.diag(c))


def test_a_class_nobody_carries_never_receives_instances():
    probs = np.array([[0.1, 0.1, 0.8], [0.9, 0.05, 0.05], [0.2, 0.7, 0.1]])
    labels = np.array([0, 0, 1])
    assert per_class_thresholds(labels, probs)[2] == np.inf
    assert confident_joint(labels, probs)[:, 2].sum() == 0


@pytest.mark.parametrize("seed", range(3))
def test_the_flag_is_the_lowest_self_confidences_by_the_estimated_count(seed):
    labels, probs = random_case(seed)
    out = find_label_issues(labels, probs)
    m = round(float(estimated_label_errors(labels, probs).sum()))
    self_confidence = probs[np.arange(len(labels)), labels]
    expected = np.zeros(len(labels), dtype=bool)
    for row in sorted(range(len(labels)), key=lambda r: (self_confidence[r], r))[:m]:
        expected[row] = True
    np.testing.assert_array_equal(out["label_issue"], expected)
    np.testing.assert_allclose(out["label_issue_score"], 1 - self_confidence)
    for row in range(len(labels)):
        others = [c for c in range(probs.shape[1]) if c != labels[row]]
        best = max(others, key=lambda c: (probs[row, c], -c))
        assert out["suggested_label"][row] == (best if expected[row] else labels[row])


@pytest.mark.parametrize("seed", range(3))
def test_ensemble_flag_is_confident_learning_on_the_models_mean_softmax(seed):
    rng = np.random.default_rng(10 + seed)
    n, n_classes, n_models = 200, 4, 3
    labels = rng.integers(0, n_classes, n)
    labels[:n_classes] = np.arange(n_classes)
    logits = rng.normal(size=(n_models, n, n_classes)) * 2
    logits[:, np.arange(n), labels] += 2.5
    logits[:, :15] = logits[:, :15, ::-1]  # 15 rows whose models agree on another class
    weights = np.array([1.0, 2.0, 1.0])
    out = ensemble_label_issue_scores(logits, labels, weights=weights)
    # per row, by hand: the weighted mean of the models' softmax, then the paper's thresholds and joint
    probs = np.zeros((n, n_classes))
    for row in range(n):
        for m in range(n_models):
            e = np.exp(logits[m, row] - logits[m, row].max())
            probs[row] += weights[m] / weights.sum() * e / e.sum()
    t = paper_thresholds(labels, probs)
    c = paper_joint(labels, probs, t)
    m = int(c.sum() - np.trace(c))
    self_confidence = probs[np.arange(n), labels]
    expected = np.zeros(n, dtype=bool)
    expected[sorted(range(n), key=lambda r: (self_confidence[r], r))[:m]] = True
    np.testing.assert_array_equal(out["ensemble_label_issue"], expected)
    np.testing.assert_allclose(out["ensemble_label_issue_score"], 1 - self_confidence, rtol=1e-12, atol=1e-15)
    for row in np.flatnonzero(expected):
        others = [cls for cls in range(n_classes) if cls != labels[row]]
        assert out["ensemble_suggested_label"][row] == max(others, key=lambda cls: (probs[row, cls], -cls))
    assert (out["ensemble_suggested_label"][~expected] == labels[~expected]).all()
    assert expected[:15].mean() > 0.5  # most rows every model reads as another class are flagged
    with pytest.raises(ValueError, match="logits_per_model"):
        ensemble_label_issue_scores(logits[0], labels)
    with pytest.raises(ValueError, match="weights"):
        ensemble_label_issue_scores(logits, labels, weights=[1, -1, 1])


def test_knn_shares_and_mean_softmax():
    neighbour_labels = np.array([[0, 0, 1, 2], [2, 2, 2, 2]])
    np.testing.assert_allclose(knn_class_probabilities(neighbour_labels, 3), [[0.5, 0.25, 0.25], [0, 0, 1]])
    z = np.random.default_rng(0).normal(size=(3, 4, 5))
    np.testing.assert_allclose(mean_softmax(z), np.mean([softmax(e, axis=1) for e in z], axis=0), rtol=1e-12)
    np.testing.assert_allclose(mean_softmax(z, epochs=1), softmax(z[0], axis=1), rtol=1e-12)


def test_adapter_matches_the_pieces_and_leaves_other_rows_missing():
    rng = np.random.default_rng(1)
    n, n_train, n_classes = 90, 70, 3
    labels = rng.integers(0, n_classes, n)
    features = rng.normal(size=(n, 4)) + labels[:, None] * 1.5
    mask = np.zeros(n, dtype=bool)
    mask[rng.choice(n, n_train, replace=False)] = True
    z = rng.normal(size=(2, n_train, n_classes))
    out = label_issue_scores(features, labels, logits_per_epoch=z, support_mask=mask, k=5)
    train_x, train_y = features[mask], labels[mask]
    d = ((train_x[:, None] - train_x[None]) ** 2).sum(axis=2)
    np.fill_diagonal(d, np.inf)
    nearest = np.array([sorted(range(n_train), key=lambda j, i=i: (d[i, j], j))[:5] for i in range(n_train)])
    p = 0.5 * knn_class_probabilities(train_y[nearest], n_classes) + 0.5 * mean_softmax(z)
    expected = find_label_issues(train_y, p)
    for column in ("label_issue", "label_issue_score", "suggested_label"):
        np.testing.assert_array_equal(out[column][mask].to_numpy(), expected[column].to_numpy())
        assert out[column][~mask].isna().all()
    given = softmax(rng.normal(size=(n_train, n_classes)), axis=1)
    with_probs = label_issue_scores(features, labels, pred_probs=given, support_mask=mask)
    np.testing.assert_array_equal(
        with_probs["label_issue"][mask].to_numpy(), find_label_issues(train_y, given)["label_issue"].to_numpy()
    )


def test_registry_fills_the_flag_from_features_and_labels():
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 3, 60)
    features = rng.normal(size=(60, 3)) + labels[:, None]
    names = [m.name for m in registry.available(["features", "labels"])]
    assert {"label_issue", "label_issue_score"} <= set(names)
    frame = registry.compute_available({"features": features, "labels": labels}, ["label_issue", "label_issue_score"])
    assert list(frame.columns) == ["label_issue", "label_issue_score", "suggested_label"]
    assert frame["label_issue_score"].between(0, 1).all()


def test_summary_counts_per_class_and_pairs():
    labels = np.array([0, 0, 1, 1, 2, 2, 2, 0])
    flag = pd.array([True, False, True, False, True, True, pd.NA, False], dtype="boolean")
    suggested = pd.array([1, 0, 0, 1, 0, 1, pd.NA, 0], dtype="Int64")
    summary = label_issue_summary(labels, flag, suggested, class_names=["a", "b", "c"])
    np.testing.assert_array_equal(summary.joint, [[0, 1, 0], [1, 0, 0], [1, 1, 0]])
    assert summary.per_class["labelled"].tolist() == [3, 2, 2]
    assert summary.per_class["estimated_errors"].tolist() == [1, 1, 2]
    assert summary.per_class["name"].tolist() == ["a", "b", "c"]
    assert summary.pairs[["class_a", "class_b", "a_to_b", "b_to_a", "total"]].values.tolist() == [
        [0, 1, 1, 1, 2],
        [0, 2, 0, 1, 1],
        [1, 2, 0, 1, 1],
    ]


def test_arguments_are_checked():
    with pytest.raises(ValueError, match="pred_probs"):
        find_label_issues([0, 1], [[0.5, 0.6], [0.5, 0.5]])
    with pytest.raises(ValueError, match="labels"):
        find_label_issues([0, 2], [[0.5, 0.5], [0.5, 0.5]])
    with pytest.raises(ValueError, match="joint"):
        calibrate_confident_joint(np.ones((2, 3)), [0, 1])
    with pytest.raises(ValueError, match="logits_per_epoch"):
        label_issue_scores(np.zeros((4, 2)), [0, 1, 0, 1], logits_per_epoch=np.zeros((2, 3, 2)))


def test_flag_finds_flipped_fashion_mnist_labels(noisy_fashion_run):
    """5% symmetric flips (the session's ``noisy_fashion_run``, shared with test_label_noise.py), all 60,000
    training images, one 3-epoch run: precision >= 0.8 and recall >= 0.85 (measured when written: 0.856 and 0.934,
    3,246 flagged for 2,974 flips).

    The full training set, because the estimated count grows with the model's weakness: on a 15,000-image subset
    the same run flags 29% too many (precision 0.725), on 30,000 images 21% (precision 0.776).
    """
    train, clean, flipped, result, head = noisy_fashion_run
    out = label_issue_scores(head, train.labels, logits_per_epoch=result.logits_per_epoch)
    flag = out["label_issue"].to_numpy()
    hits = int((flag & flipped).sum())
    precision, recall = hits / max(1, flag.sum()), hits / flipped.sum()
    print(f"flagged {flag.sum()}, flipped {flipped.sum()}: precision {precision:.3f}, recall {recall:.3f}")
    assert precision >= 0.8 and recall >= 0.85
    assert abs(flag.sum() - flipped.sum()) <= 0.2 * flipped.sum()
    suggested = out["suggested_label"].to_numpy()
    assert (suggested[flag & flipped] == clean[flag & flipped]).mean() >= 0.8
