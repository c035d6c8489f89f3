"""Data-perspective scores against per-instance loops."""

from __future__ import annotations

import numpy as np
import pytest

from difficulty_widget.measures import centroid_distance, class_frequency, knn_label_agreement, local_density
from difficulty_widget.measures.data import data_scores


@pytest.fixture()
def blobs():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 150)
    features = rng.normal(size=(150, 5)) + labels[:, None] * 1.5
    return features, labels


def neighbours_by_loop(x, k):
    out = []
    for i in range(len(x)):
        d = ((x - x[i]) ** 2).sum(1)
        out.append(sorted((j for j in range(len(x)) if j != i), key=lambda j: (d[j], j))[:k])
    return out


def test_knn_agreement_and_density_against_loops(blobs):
    x, y = blobs
    nbrs = neighbours_by_loop(x, 7)
    np.testing.assert_allclose(knn_label_agreement(x, y, k=7), [np.mean(y[n] == y[i]) for i, n in enumerate(nbrs)])
    want = [np.mean([np.sqrt(((x[j] - x[i]) ** 2).sum()) for j in n]) for i, n in enumerate(nbrs)]
    np.testing.assert_allclose(local_density(x, k=7), want, rtol=1e-12)


def test_centroid_distance_and_class_frequency_against_loops(blobs):
    x, y = blobs
    got = centroid_distance(x, y)
    for c in range(3):
        members = np.flatnonzero(y == c)
        centre = x[members].mean(axis=0)
        dist = np.array([np.linalg.norm(x[i] - centre) for i in members])
        np.testing.assert_allclose(got[members], dist / np.median(dist), rtol=1e-12)
    np.testing.assert_allclose(class_frequency(y), [np.mean(y == v) for v in y])


def test_registry_adapter_shares_one_search(blobs):
    x, y = blobs
    frame = data_scores(x, y)
    assert list(frame.columns) == ["knn_agreement", "centroid_distance", "local_density", "class_frequency"]
    np.testing.assert_allclose(frame["knn_agreement"], knn_label_agreement(x, y, k=30))
    np.testing.assert_allclose(frame["local_density"], local_density(x, k=30))


def test_mislabelled_points_have_low_agreement(blobs):
    x, y = blobs
    flipped = y.copy()
    flipped[:10] = (y[:10] + 1) % 3
    agreement = knn_label_agreement(x, flipped, k=10)
    assert agreement[:10].mean() < 0.3 < agreement[10:].mean()
