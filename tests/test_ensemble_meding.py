"""Meding, Schulze Buschoff, Geirhos, Wichmann (ICLR 2022) reproduced from their published per-image data.

``../shared/data/trivial-or-impossible`` holds, for each of the 50,000 ImageNet validation images, the share of 11
models that classify it correctly, and the mask of the 2,916 known label errors. The published figures (31.838%
trivial, 7.044% impossible and the counts of k = 0..11 models right) are typed in below from the data's README,
not computed; notebook 03 runs the same steps.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from difficulty_widget.measures import dichotomy

FOLDER = Path(__file__).resolve().parents[2] / "shared" / "data" / "trivial-or-impossible"  # as in conftest.py
PUBLISHED_COUNTS = [3522, 2230, 1893, 1851, 2088, 2243, 2444, 2878, 3409, 4442, 7081, 15919]  # k = 0, ..., 11


@pytest.fixture(scope="module")
def meding():
    if not (FOLDER / "Rebuttal_mean_decisions_correct.npy").is_file():
        pytest.skip(f"Meding et al.'s data not found in {FOLDER} (external test data, not shipped with the project)")
    share = np.load(FOLDER / "Rebuttal_mean_decisions_correct.npy").reshape(-1)
    label_errors = np.load(FOLDER / "label_errors.npy").reshape(-1) == 1
    return share, label_errors


def as_correct(share: np.ndarray, n_models: int = 11) -> np.ndarray:
    """An (M, N) right/wrong matrix with round(share * M) models right per image (the first ones; the dichotomy
    depends only on the count)."""
    k = np.rint(share * n_models).astype(int)
    assert np.allclose(k / n_models, share, atol=1e-9), "the shares are not multiples of 1/11"
    return np.arange(n_models)[:, None] < k[None, :]


def test_published_trivial_and_impossible_shares(meding):
    share, _ = meding
    result = dichotomy(as_correct(share))
    assert len(share) == 50_000
    assert np.bincount(result.per_instance["n_models_correct"], minlength=12).tolist() == PUBLISHED_COUNTS
    assert result.summary.loc["trivial", "count"] == 15919 and result.summary.loc["impossible", "count"] == 3522
    assert round(100 * result.shares["trivial"], 3) == 31.838  # "31.8% trivial"
    assert round(100 * result.shares["impossible"], 3) == 7.044  # "7.0% impossible"
    assert result.summary.loc["decisive", "count"] == 50_000 - 15919 - 3522


def test_known_label_errors_by_category(meding):
    share, label_errors = meding
    category = dichotomy(as_correct(share)).per_instance["dichotomy"].to_numpy()
    assert label_errors.sum() == 2916
    # counted directly from the shares, independently of dichotomy's categories
    impossible, trivial = share == 0, share == 1
    assert ((category == "impossible") == impossible).all() and ((category == "trivial") == trivial).all()
    in_impossible = (label_errors & impossible).sum()
    in_trivial = (label_errors & trivial).sum()
    assert in_impossible + in_trivial + (label_errors & ~impossible & ~trivial).sum() == 2916
    # most impossible images are not known label errors (Meding et al.: impossible "beyond label errors"), though
    # they are enriched in them, and about half of the label errors are decisive
    assert 0.3 < in_impossible / impossible.sum() < 0.5
    assert in_impossible / impossible.sum() > 5 * label_errors.mean()
    assert 0.45 < (label_errors & ~impossible & ~trivial).sum() / 2916 < 0.6
    assert in_trivial / 2916 < 0.02
