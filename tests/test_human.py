"""Human perspective: CIFAR-10H scores against plain NumPy and loops, alignment, quadrants, loaders, bad input."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from difficulty_widget.data import (
    CIFAR10_CLASSES,
    DatasetNotFoundError,
    counts_from_annotations,
    load_cifar10h,
)
from difficulty_widget.measures import difficulty_quadrants, human_scores, model_human_alignment, registry
from difficulty_widget.measures.human import resampled_ranks


@pytest.fixture(scope="module")
def cifar10h(cifar10h_dir):
    return load_cifar10h(cifar10h_dir)


def spearman_by_hand(x, y) -> float:
    """Pearson correlation of average ranks (pandas ranks, NumPy correlation): Spearman's rho, independently."""
    rx = pd.Series(x).rank(method="average").to_numpy()
    ry = pd.Series(y).rank(method="average").to_numpy()
    return float(np.corrcoef(rx, ry)[0, 1])


# ---------------------------------------------------------------------------------------------- CIFAR-10H
def test_cifar10h_counts_are_what_the_paper_describes(cifar10h):
    counts = cifar10h.counts
    assert counts.shape == (10000, 10) and counts.dtype == np.int64 and not cifar10h.is_probabilities
    assert cifar10h.class_names == CIFAR10_CLASSES and cifar10h.images is None and cifar10h.labels is None
    annotators = counts.sum(axis=1)
    assert annotators.min() == 47 and annotators.max() == 63
    scores = human_scores(cifar10h.counts, cifar10h.labels)
    assert len(scores) == 10000
    assert scores["human_n_annotators"].tolist() == annotators.tolist()


def test_cifar10h_majority_agreement_entropy_against_numpy(cifar10h):
    counts = cifar10h.counts
    scores = human_scores(counts)
    rows = counts.tolist()
    majority = [row.index(max(row)) for row in rows]  # first maximum: ties to the lower class index
    assert scores["human_majority"].tolist() == majority
    top_share = counts.max(axis=1) / counts.sum(axis=1)
    np.testing.assert_array_equal(scores["human_agreement"].to_numpy(), top_share)
    np.testing.assert_allclose(scores["human_ambiguity"].to_numpy(), 1 - top_share, rtol=0, atol=1e-15)
    # the distribution of agreement: quantiles and histogram as NumPy sees them
    quantiles = [0.01, 0.1, 0.25, 0.5, 0.75]
    np.testing.assert_array_equal(np.quantile(scores["human_agreement"], quantiles), np.quantile(top_share, quantiles))
    bins = np.linspace(0, 1, 21)
    assert np.histogram(scores["human_agreement"], bins)[0].tolist() == np.histogram(top_share, bins)[0].tolist()
    assert scores["human_agreement"].mean() == pytest.approx(top_share.mean(), rel=1e-12)
    # entropy: a per-row loop with 0 log 0 = 0, and exactly zero where every annotator chose the same class
    for i in range(0, 10000, 97):
        total = sum(rows[i])
        expected = -sum(c / total * math.log(c / total) for c in rows[i] if c > 0)
        assert scores["human_entropy"][i] == pytest.approx(expected, rel=1e-12, abs=1e-15)
    unanimous = counts.max(axis=1) == counts.sum(axis=1)
    assert 0.3 < unanimous.mean() < 0.6
    assert ((scores["human_entropy"] == 0.0).to_numpy() == unanimous).all()
    assert (scores["human_entropy"][~unanimous] > 0).all()


def test_agreement_with_given_labels(cifar10h):
    counts = cifar10h.counts
    labels = np.random.default_rng(0).integers(0, 10, len(counts))
    scores = human_scores(counts, labels)
    expected = [row[y] / sum(row) for row, y in zip(counts.tolist(), labels.tolist(), strict=True)]
    np.testing.assert_allclose(scores["human_agreement"].to_numpy(), expected, rtol=1e-15)
    assert (scores["human_agreement"] <= 1 - scores["human_ambiguity"] + 1e-15).all()


def test_probabilities_file_gives_the_same_count_free_scores(cifar10h_dir, cifar10h):
    probs = load_cifar10h(cifar10h_dir / "cifar10h-probs.npy")
    assert probs.is_probabilities and probs.counts.shape == (10000, 10)
    from_probs, from_counts = human_scores(probs.counts, probs.labels), human_scores(cifar10h.counts)
    assert "human_n_annotators" not in from_probs.columns
    for column in ("human_agreement", "human_entropy", "human_ambiguity"):
        np.testing.assert_allclose(from_probs[column], from_counts[column], rtol=0, atol=1e-12)
    assert from_probs["human_majority"].tolist() == from_counts["human_majority"].tolist()


def test_registry_entries_compute_from_counts(cifar10h):
    for name in ("human_agreement", "human_entropy", "human_ambiguity"):
        assert registry.get(name).perspective == "human" and "human_counts" in registry.get(name).inputs
    assert registry.get("human_agreement").direction == "hard = low"
    assert registry.get("human_entropy").direction == "hard = high"
    only_counts = registry.compute_available({"human_counts": cifar10h.counts})
    assert list(only_counts.columns) == ["human_majority", "human_entropy", "human_ambiguity"]
    labels = only_counts["human_majority"].to_numpy()
    both = registry.compute_available({"human_counts": cifar10h.counts, "labels": labels})
    assert "human_agreement" in both.columns
    np.testing.assert_allclose(both["human_agreement"], 1 - both["human_ambiguity"], atol=1e-15)


# ---------------------------------------------------------------------------------------------- alignment
def test_alignment_with_a_monotone_function_of_agreement_is_one(cifar10h):
    agreement = human_scores(cifar10h.counts)["human_agreement"].to_numpy()
    model = np.exp(3 * agreement) - 2.0  # strictly increasing: same ranks, ties included
    labels = human_scores(cifar10h.counts)["human_majority"].to_numpy()
    table = model_human_alignment(model, agreement, labels=labels, n_boot=200, class_names=CIFAR10_CLASSES)
    assert table["group"].tolist() == ["all", *CIFAR10_CLASSES]
    assert table["label"].isna().tolist() == [True] + [False] * 10
    assert table["n"].tolist() == [10000, *np.bincount(labels, minlength=10).tolist()]
    np.testing.assert_allclose(table["spearman"], 1.0, atol=1e-12)
    np.testing.assert_allclose(table[["ci_low", "ci_high"]], 1.0, atol=1e-12)
    reversed_table = model_human_alignment(-model, agreement, n_boot=50)
    assert reversed_table["spearman"][0] == pytest.approx(-1.0, abs=1e-12)


def test_alignment_against_ranks_by_hand_and_seeded_bootstrap():
    rng = np.random.default_rng(1)
    human = np.round(rng.random(600), 1)  # many ties
    model = human + rng.normal(scale=0.3, size=600)
    labels = rng.integers(0, 3, 600)
    table = model_human_alignment(model, human, labels=labels, n_boot=500, seed=5)
    assert table["group"].tolist() == ["all", "0", "1", "2"]
    assert table["spearman"][0] == pytest.approx(spearman_by_hand(model, human), abs=1e-12)
    for row in range(1, 4):
        chosen = labels == row - 1
        assert table["spearman"][row] == pytest.approx(spearman_by_hand(model[chosen], human[chosen]), abs=1e-12)
    assert (table["ci_low"] < table["spearman"]).all() and (table["spearman"] < table["ci_high"]).all()
    pd.testing.assert_frame_equal(model_human_alignment(model, human, labels=labels, n_boot=500, seed=5), table)
    other = model_human_alignment(model, human, labels=labels, n_boot=500, seed=6)
    assert not np.array_equal(other["ci_low"], table["ci_low"])
    overall = model_human_alignment(model, human, n_boot=500, seed=5)
    pd.testing.assert_frame_equal(overall, table.iloc[:1])  # the overall row does not depend on labels


def test_resampled_ranks_equal_average_ranks():
    rng = np.random.default_rng(2)
    x = rng.integers(0, 7, 50).astype(float)
    values, codes = np.unique(x, return_inverse=True)
    idx = rng.integers(0, 50, size=(20, 50))
    ranks = resampled_ranks(codes, len(values), idx)
    for b in range(20):
        expected = pd.Series(x[idx[b]]).rank(method="average").to_numpy()
        np.testing.assert_array_equal(ranks[b], expected)


def test_alignment_of_a_constant_score_is_nan():
    table = model_human_alignment(np.arange(10.0), np.ones(10), n_boot=20)
    assert np.isnan(table.loc[0, ["spearman", "ci_low", "ci_high"]].to_numpy(dtype=float)).all()
    one = model_human_alignment(np.arange(4.0), np.arange(4.0), labels=[0, 0, 0, 1], n_boot=20)
    assert one["n"].tolist() == [4, 3, 1] and np.isnan(one["spearman"][2])


# ---------------------------------------------------------------------------------------------- quadrants
def test_quadrants_on_a_hand_case():
    model_hard = [0.1, 0.9, 0.2, 0.8, 0.5, 0.5]
    human_hard = [0.0, 0.1, 0.7, 0.9, 0.5, 0.2]
    quadrants = difficulty_quadrants(model_hard, human_hard, model_threshold=0.5, human_threshold=0.5)
    assert quadrants.tolist() == [
        "easy for both", "hard for model only", "hard for humans only", "hard for both", "easy for both",
        "easy for both",
    ]  # fmt: skip
    assert list(quadrants.cat.categories) == [
        "easy for both", "hard for model only", "hard for humans only", "hard for both",
    ]  # fmt: skip
    assert quadrants.attrs == {"model_threshold": 0.5, "human_threshold": 0.5}
    by_median = difficulty_quadrants(model_hard, human_hard)
    assert by_median.attrs == {"model_threshold": 0.5, "human_threshold": 0.35}
    assert by_median.tolist() == [
        "easy for both", "hard for model only", "hard for humans only", "hard for both", "hard for humans only",
        "easy for both",
    ]  # fmt: skip


def test_quadrants_with_human_agreement_flipped(cifar10h):
    agreement = human_scores(cifar10h.counts)["human_agreement"].to_numpy()
    rng = np.random.default_rng(3)
    quadrants = difficulty_quadrants(rng.random(10000), 1 - agreement, model_threshold=0.9, human_threshold=0.1)
    hard_humans = quadrants.isin(["hard for humans only", "hard for both"]).to_numpy()
    assert (hard_humans == (1 - agreement > 0.1)).all()


# ---------------------------------------------------------------------------------------------- annotations
def test_counts_from_a_long_table():
    table = pd.DataFrame(
        {
            "annotator": [1, 2, 3, 1, 2, 3, 1, 2],
            "instance": [0, 0, 0, 1, 1, 1, 3, 3],
            "label": [2, 2, 0, 1, 1, 1, 0, 2],
            "reaction_time": [1.0, 3.0, 2.0, 0.5, np.nan, 1.5, 4.0, 6.0],
        }
    )
    counts, median = counts_from_annotations(table, n_classes=4)
    assert counts.tolist() == [[1, 0, 2, 0], [0, 3, 0, 0], [0, 0, 0, 0], [1, 0, 1, 0]]
    assert counts.dtype == np.int64
    np.testing.assert_array_equal(median, [2.0, 1.0, np.nan, 5.0])
    counts, median = counts_from_annotations(table.drop(columns="reaction_time"), n_instances=5)
    assert counts.shape == (5, 3) and median is None
    scores = human_scores(counts[[0, 1, 3]], labels=[2, 1, 0])
    assert scores["human_agreement"].tolist() == [2 / 3, 1.0, 0.5]


def test_repeated_annotations_are_refused_unless_allowed():
    table = pd.DataFrame({"annotator": [1, 1, 2], "instance": [0, 0, 0], "label": [1, 0, 1]})
    with pytest.raises(ValueError, match="repeated"):
        counts_from_annotations(table)
    assert counts_from_annotations(table, allow_repeats=True).counts.tolist() == [[1, 2]]


# ---------------------------------------------------------------------------------------------- loader
def test_load_cifar10h_from_a_folder_or_a_file(cifar10h_dir, tmp_path):
    from_file = load_cifar10h(cifar10h_dir / "cifar10h-counts.npy")
    assert np.array_equal(from_file.counts, load_cifar10h(cifar10h_dir).counts)
    only_probs = tmp_path / "probs_only"
    only_probs.mkdir()
    np.save(only_probs / "cifar10h-probs.npy", np.load(cifar10h_dir / "cifar10h-probs.npy")[:20])
    assert load_cifar10h(only_probs).is_probabilities
    with pytest.raises(DatasetNotFoundError, match="jcpeterson/cifar-10h"):
        load_cifar10h(tmp_path / "nowhere")
    np.save(tmp_path / "wrong.npy", np.ones((5, 3), dtype=np.int64))
    with pytest.raises(ValueError, match=r"\(n_images, 10\)"):
        load_cifar10h(tmp_path / "wrong.npy")
    np.save(tmp_path / "fractions.npy", np.full((5, 10), 0.2))
    with pytest.raises(ValueError, match="do not all sum to 1"):
        load_cifar10h(tmp_path / "fractions.npy")


def test_missing_cifar10_images_raise_a_clear_error(cifar10h_dir, tmp_path):
    pytest.importorskip("torchvision")
    with pytest.raises(DatasetNotFoundError, match="CIFAR-10 \\(test\\) not found"):
        load_cifar10h(cifar10h_dir, cifar10_root=tmp_path)


def test_counts_are_paired_with_torchvision_images(cifar10h_dir, monkeypatch):
    """The pairing logic, with a stand-in for torchvision's CIFAR10 (the real images are not available here)."""
    torchvision = pytest.importorskip("torchvision")
    calls = []

    class FakeCIFAR10:
        def __init__(self, root, train, download):
            calls.append((root, train, download))
            self.classes = list(CIFAR10_CLASSES)
            self.data = np.zeros((10000, 32, 32, 3), dtype=np.uint8)
            self.targets = [i % 10 for i in range(10000)]

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", FakeCIFAR10)
    loaded = load_cifar10h(cifar10h_dir, cifar10_root="/some/root")
    assert calls == [("/some/root", False, False)]
    assert loaded.images.images.shape == (10000, 32, 32, 3) and loaded.labels.tolist()[:3] == [0, 1, 2]
    assert "human_agreement" in human_scores(loaded.counts, loaded.labels).columns


def _cifar10_root() -> Path | None:
    for base in (os.environ.get("DIFFICULTY_WIDGET_DATA"), Path.home() / ".cache" / "difficulty_widget"):
        if base and (Path(base) / "cifar-10-batches-py" / "test_batch").is_file():
            return Path(base)
    return None


@pytest.mark.skipif(_cifar10_root() is None, reason="CIFAR-10 not available offline (torchvision root not found)")
def test_real_cifar10_labels_mostly_match_the_human_majority(cifar10h_dir):
    loaded = load_cifar10h(cifar10h_dir, cifar10_root=_cifar10_root())
    majority = human_scores(loaded.counts)["human_majority"].to_numpy()
    assert (majority == loaded.labels).mean() > 0.9  # humans agree with the CIFAR-10 labels on most images


# ---------------------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: human_scores([[1, -1], [2, 0]]), "counts contains negative values in 1 row"),
        (lambda: human_scores([[1, 2], [0, 0]]), r"counts has 1 row\(s\) with no annotations"),
        (lambda: human_scores([[0.5, 0.4], [0.5, 0.5]]), "counts holds fractions but 1 row"),
        (lambda: human_scores([[1, 2], [3, 0]], labels=[0]), "labels has length 1, expected 2"),
        (lambda: human_scores([[1, 2], [3, 0]], labels=[0, 2]), r"labels must lie in \[0, 2\)"),
        (lambda: human_scores([1, 2, 3]), "counts must be a 2-D array"),
        (lambda: human_scores([[1], [2]]), "counts must have at least 2 classes"),
        (lambda: human_scores([[np.nan, 1.0]]), "counts contains NaN"),
        (lambda: human_scores([["a", "b"]]), "counts must be numeric"),
        (lambda: model_human_alignment([1.0, 2.0], [1.0]), "human_score has length 1, expected 2"),
        (lambda: model_human_alignment([1.0, np.nan], [1.0, 2.0]), "model_score contains 1 NaN"),
        (lambda: model_human_alignment([1.0, 2.0], [1.0, 2.0], labels=[0]), "labels has length 1"),
        (lambda: model_human_alignment([1.0, 2.0], [1.0, 2.0], n_boot=0), "n_boot must be a positive integer"),
        (lambda: model_human_alignment([1.0, 2.0], [1.0, 2.0], level=0), "level must be a number"),
        (lambda: difficulty_quadrants([1.0, 2.0], [1.0, 2.0, 3.0]), "human_hard has length 3, expected 2"),
        (lambda: difficulty_quadrants([[1.0]], [1.0]), "model_hard must be a 1-D array"),
        (lambda: difficulty_quadrants([1.0], [1.0], model_threshold=np.nan), "model_threshold must be finite"),
        (lambda: difficulty_quadrants([1.0], [1.0], human_threshold="high"), "human_threshold must be a number"),
        (lambda: counts_from_annotations({"instance": [0]}), "table must be a pandas DataFrame"),
        (lambda: counts_from_annotations(pd.DataFrame({"instance": [0], "label": [1]})), r"lacks column\(s\)"),
        (
            lambda: counts_from_annotations(pd.DataFrame({"annotator": [1], "instance": [-1], "label": [0]})),
            r"table\['instance'\] must lie in",
        ),
        (
            lambda: counts_from_annotations(
                pd.DataFrame({"annotator": [1], "instance": [0], "label": [3]}), n_classes=2
            ),
            "n_classes is 2 but table\\['label'\\] goes up to 3",
        ),
        (
            lambda: counts_from_annotations(
                pd.DataFrame({"annotator": [1], "instance": [0], "label": [0], "reaction_time": ["fast"]})
            ),
            r"table\['reaction_time'\] must be numeric",
        ),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()
