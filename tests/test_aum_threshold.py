"""AUM threshold samples (Pleiss, Zhang, Elenberg, Weinberger, NeurIPS 2020, section 3): the functions against direct
numpy, and the trainer path on digits."""

from __future__ import annotations

import numpy as np
import pytest

from difficulty_widget.extract import DynamicsRecorder, make_model, train_model, train_small_model
from difficulty_widget.measures import (
    area_under_margin,
    aum_mislabelled,
    aum_threshold,
    calibrated_aum_threshold,
    threshold_sample_labels,
)


def test_threshold_sample_labels():
    labels = np.arange(100) % 4
    relabelled, mask = threshold_sample_labels(labels, 4, seed=1)
    assert mask.sum() == 100 // 5 and relabelled.dtype == np.int64
    np.testing.assert_array_equal(relabelled[mask], 4)
    np.testing.assert_array_equal(relabelled[~mask], labels[~mask])
    _, mask2 = threshold_sample_labels(labels, 4, seed=1)
    np.testing.assert_array_equal(mask, mask2)
    assert threshold_sample_labels(labels, 4, seed=1, fraction=0.3)[1].sum() == 30
    with pytest.raises(ValueError, match="must lie in"):
        threshold_sample_labels(labels, 3)


def test_threshold_and_flag_against_numpy():
    values = np.array([-3.0, -2.0, -1.0, 0.5, 2.0])
    assert aum_threshold(values) == pytest.approx(np.percentile(values, 99))
    assert aum_threshold(values, 50) == -1.0
    aum = np.array([-2.5, 0.0, 1.0, -4.0])
    np.testing.assert_array_equal(aum_mislabelled(aum, -1.0), [True, False, False, True])
    np.testing.assert_array_equal(aum_mislabelled(aum, -1.0, np.array([False, False, False, True])), [1, 0, 0, 0])
    # hand-made logits: 2 epochs, 4 instances, 3 classes; AUM = mean of z_y - max other
    z = np.array([[[3, 0, 0], [0, 1, 0], [0, 0, 2], [1, 0, 0]], [[1, 0, 0], [0, 3, 0], [0, 0, -2], [0, 2, 0]]], float)
    y = np.array([0, 1, 2, 0])
    aum = area_under_margin(z, y)
    np.testing.assert_allclose(aum, [2.0, 2.0, 0.0, -0.5])
    t = calibrated_aum_threshold(z, y, n_errors=2)
    assert t == pytest.approx(1.0) and (aum < t).sum() == 2
    assert (aum < calibrated_aum_threshold(z, y, n_errors=0)).sum() == 0
    assert (aum < calibrated_aum_threshold(z, y, n_errors=4)).sum() == 4


def test_trainer_path_on_digits(digits):
    n, c = len(digits), digits.n_classes
    result = train_small_model(digits, "cnn", epochs=2, threshold_samples=True, progress=False)
    assert result.full_logits_per_epoch.shape == (2, n, c + 1)
    assert result.logits_per_epoch.shape == (2, n, c)
    np.testing.assert_array_equal(result.logits_per_epoch, result.full_logits_per_epoch[:, :, :c])
    assert result.threshold_mask.sum() == n // (c + 1)
    np.testing.assert_array_equal(result.training_labels[result.threshold_mask], c)
    np.testing.assert_allclose(result.aum, area_under_margin(result.full_logits_per_epoch, result.training_labels))
    thr = result.aum[result.threshold_mask]
    real = result.aum[~result.threshold_mask]
    assert result.aum_threshold == pytest.approx(np.percentile(thr, 99))
    assert (thr < np.median(real)).mean() > 0.8, "threshold samples' AUM should mostly lie below the real ones'"
    assert not result.mislabelled[result.threshold_mask].any()


def test_recorder_and_wrong_model(digits):
    small = digits.subset(np.arange(110))
    recorder = DynamicsRecorder(small, threshold_samples=True, n_classes=10, device="cpu")
    assert recorder.threshold_mask.sum() == 10 and (recorder.training_labels == 10).sum() == 10
    with pytest.raises(ValueError, match="real classes and the fake one"):
        recorder.record(np.zeros((110, 10)))
    with pytest.raises(ValueError, match="C \\+ 1 = 11 outputs"):
        train_model(make_model("mlp", 10, (8, 8)), small, epochs=1, threshold_samples=True, progress=False)
    with pytest.raises(ValueError, match="needs n_classes"):
        DynamicsRecorder(small, threshold_samples=True)
