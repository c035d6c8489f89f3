"""Training dynamics against hand-built sequences and per-element loops."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from difficulty_widget.measures.dynamics import (
    area_under_margin,
    data_map,
    dynamics_scores,
    forgetting_events,
    iteration_learned,
)

# rows: epochs; columns: learned late, learned-forgotten-relearned, never learned, always right, forgotten at the end
CORRECT = np.array(
    [
        [0, 0, 0, 1, 1],
        [0, 1, 0, 1, 1],
        [1, 0, 0, 1, 1],
        [1, 1, 0, 1, 0],
    ],
    dtype=bool,
)


def test_forgetting_and_iteration_learned_on_hand_built_sequences():
    forgotten, never = forgetting_events(CORRECT)
    assert forgotten.tolist() == [0, 1, 0, 0, 1]
    assert never.tolist() == [False, False, True, False, False]
    learned, undefined = iteration_learned(CORRECT)
    assert learned.tolist() == [2, 3, 4, 0, 4]
    assert undefined.tolist() == [False, False, True, False, True]


def test_against_per_element_loops():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(6, 40, 4)) * 2
    labels = rng.integers(0, 4, 40)
    frame = data_map(logits, labels, variability_threshold=0.15, confidence_threshold=0.4)
    aum = area_under_margin(logits, labels)
    correct = logits.argmax(axis=2) == labels[None, :]
    forgotten, _ = forgetting_events(correct)
    learned, _ = iteration_learned(correct)
    for i in range(40):
        probs = []
        margins = []
        for e in range(6):
            z = list(logits[e, i])
            total = sum(math.exp(v - max(z)) for v in z)
            probs.append(math.exp(z[labels[i]] - max(z)) / total)
            margins.append(z[labels[i]] - max(v for c, v in enumerate(z) if c != labels[i]))
        mean = sum(probs) / 6
        std = math.sqrt(sum((p - mean) ** 2 for p in probs) / 6)
        assert frame["dm_confidence"][i] == pytest.approx(mean, rel=1e-12)
        assert frame["dm_variability"][i] == pytest.approx(std, rel=1e-9, abs=1e-12)
        assert frame["dm_correctness"][i] == pytest.approx(correct[:, i].mean())
        region = "ambiguous" if std >= 0.15 else ("easy-to-learn" if mean >= 0.4 else "hard-to-learn")
        assert frame["dm_region"][i] == region
        assert aum[i] == pytest.approx(sum(margins) / 6, rel=1e-12)
        seq = correct[:, i].tolist()
        assert forgotten[i] == sum(1 for a, b in itertools.pairwise(seq) if a and not b)
        assert learned[i] == next((e for e in range(6) if all(seq[e:])), 6)


def test_registry_adapter_has_every_column():
    rng = np.random.default_rng(1)
    frame = dynamics_scores(rng.normal(size=(3, 10, 3)), rng.integers(0, 3, 10))
    assert list(frame.columns) == [
        "dm_confidence", "dm_variability", "dm_correctness", "dm_region",
        "forgetting_events", "never_learned", "aum", "iteration_learned", "learned_undefined",
        "mean_loss", "el2n_early", "first_learned", "first_forgotten", "unforgettable", "diq_aleatoric", "diq_region",
    ]  # fmt: skip


def test_bad_input():
    with pytest.raises(ValueError, match="at least two epochs"):
        data_map(np.zeros((1, 3, 2)), np.zeros(3, int))
    with pytest.raises(ValueError, match="must have shape"):
        area_under_margin(np.zeros((3, 2)), np.zeros(3, int))
    with pytest.raises(ValueError, match="NaN"):
        data_map(np.full((2, 3, 2), np.nan), np.zeros(3, int))
    with pytest.raises(ValueError, match="labels has length"):
        area_under_margin(np.zeros((2, 3, 2)), np.zeros(4, int))
    with pytest.raises(ValueError, match="at least two epochs"):
        forgetting_events(np.ones((1, 4), bool))


def test_default_regions_are_thirds_after_swayamdipta():
    rng = np.random.default_rng(7)
    n = 600
    labels = rng.integers(0, 4, n)
    logits = (
        rng.normal(size=(6, n, 4))
        + np.linspace(0, 3, 6)[:, None, None]
        * (np.arange(4)[None, None, :] == labels[None, :, None])
        * rng.random(n)[None, :, None]
    )
    frame = data_map(logits, labels)
    p = np.exp(logits - logits.max(axis=2, keepdims=True))
    p = (p / p.sum(axis=2, keepdims=True))[:, np.arange(n), labels]
    mean, std = p.mean(axis=0), p.std(axis=0)
    cut = np.quantile(std, 2 / 3)
    middle = np.median(mean[std < cut])
    want = np.where(std >= cut, "ambiguous", np.where(mean >= middle, "easy-to-learn", "hard-to-learn"))
    assert frame["dm_region"].astype(str).tolist() == want.tolist()
    shares = frame["dm_region"].value_counts(normalize=True)
    assert all(abs(shares[r] - 1 / 3) < 0.02 for r in ("easy-to-learn", "ambiguous", "hard-to-learn"))
