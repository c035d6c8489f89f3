"""Variance of Gradients (Agarwal, D'souza, Hooker, CVPR 2022): the formula against per-row loops, the online
accumulator against the batch function, the batched input-gradient pass against per-sample autograd, the recorder."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from difficulty_widget.extract import DynamicsRecorder, input_gradients, make_model, train_small_model
from difficulty_widget.measures import GradientVariance, registry, variance_of_gradients


def loop_vog(grads, labels):
    """Eq. 2 and 3 with Python loops: per pixel sqrt(1/K sum (S_t - mu)^2), mean over pixels, then per class."""
    k, n = len(grads), len(grads[0])
    raw = []
    for i in range(n):
        pixels = [np.ravel(grads[t][i]).tolist() for t in range(k)]
        total = 0.0
        for p in range(len(pixels[0])):
            mu = sum(pixels[t][p] for t in range(k)) / k
            total += math.sqrt(sum((pixels[t][p] - mu) ** 2 for t in range(k)) / k)
        raw.append(total / len(pixels[0]))
    norm = []
    for i in range(n):
        same = [raw[j] for j in range(n) if labels[j] == labels[i]]
        mean = sum(same) / len(same)
        std = math.sqrt(sum((v - mean) ** 2 for v in same) / len(same))
        norm.append(0.0 if std == 0 else (raw[i] - mean) / std)
    return np.array(raw), np.array(norm)


@pytest.fixture()
def gradient_sequence():
    rng = np.random.default_rng(0)
    grads = rng.normal(size=(5, 12, 2, 3, 3)) * rng.uniform(0.1, 3.0, size=(1, 12, 1, 1, 1))
    labels = np.array([0, 1, 2] * 4)
    return grads, labels


def test_formula_matches_the_paper_by_hand(gradient_sequence):
    grads, labels = gradient_sequence
    raw, norm = loop_vog(grads, labels)
    np.testing.assert_allclose(variance_of_gradients(grads, normalize=False), raw, rtol=1e-12)
    np.testing.assert_allclose(variance_of_gradients(grads, labels), norm, rtol=1e-10, atol=1e-12)
    constant = np.repeat(grads[:1], 3, axis=0)
    np.testing.assert_allclose(variance_of_gradients(constant, normalize=False), 0.0, atol=1e-15)


def test_online_accumulator_equals_the_batch_function(gradient_sequence):
    grads, labels = gradient_sequence
    acc = GradientVariance()
    for g in grads.astype(np.float32):
        acc.update(g)
    expected = variance_of_gradients(grads.astype(np.float32), normalize=False)
    np.testing.assert_allclose(acc.scores(), expected, rtol=1e-10)
    np.testing.assert_allclose(acc.normalized(labels), variance_of_gradients(grads.astype(np.float32), labels))
    np.testing.assert_allclose(acc.variance, grads.astype(np.float32).astype(np.float64).var(axis=0), rtol=1e-9)
    np.testing.assert_allclose(variance_of_gradients(acc, labels), acc.normalized(labels))


def test_bad_input(gradient_sequence):
    grads, labels = gradient_sequence
    with pytest.raises(ValueError, match="at least two checkpoints"):
        variance_of_gradients(grads[:1], labels)
    with pytest.raises(ValueError, match="needs labels"):
        variance_of_gradients(grads)
    acc = GradientVariance()
    acc.update(grads[0])
    with pytest.raises(ValueError, match="at least 2 checkpoint"):
        acc.scores()
    with pytest.raises(ValueError, match="earlier checkpoints"):
        acc.update(grads[0, :5])


def test_batched_pass_equals_per_sample_autograd(digits):
    data = digits.subset(np.arange(24))
    model = make_model("cnn", 10, (8, 8), seed=0)
    model.train()  # modes are restored afterwards
    labels = (data.labels + 3) % 10
    batched = input_gradients(model, data, labels, batch_size=7, device="cpu")
    assert batched.shape == (24, 1, 8, 8) and batched.dtype == np.float32
    assert all(m.training for m in model.modules())
    assert all(p.grad is None for p in model.parameters())
    model.eval()
    x, _ = data.as_dataset().batch(0, 24)
    for i in range(24):
        xi = x[i : i + 1].clone().requires_grad_(True)
        model(xi)[0, labels[i]].backward()
        np.testing.assert_allclose(batched[i], xi.grad[0].numpy(), rtol=1e-5, atol=1e-7)


def test_recorder_and_trainer_path_on_digits(digits):
    result = train_small_model(digits, "cnn", epochs=2, record_input_gradients=True, progress=False)
    acc = result.input_gradients
    assert acc.count == 2 and acc.shape == (len(digits), 1, 8, 8)
    assert result.logits_per_epoch is None
    frame = registry.compute_available({"input_gradients": result, "labels": digits.labels}, names=["vog"])
    np.testing.assert_allclose(frame["vog"], acc.normalized(digits.labels))
    assert np.isfinite(frame["vog"]).all() and frame["vog"].std() > 0

    recorder = DynamicsRecorder(digits.subset(np.arange(100)), input_gradients=True, device="cpu")
    model = make_model("cnn", 10, (8, 8), seed=0)
    recorder.record_model(model)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(1.1)
    recorder.record_model(model)
    assert recorder.input_gradients.count == 2 and recorder.logits_per_epoch.shape == (2, 100, 10)
    mask = np.zeros(130, dtype=bool)
    mask[:100] = True
    labels = np.concatenate([digits.labels[:100], digits.labels[:30]])
    frame = registry.compute_available(
        {"input_gradients": recorder, "labels": labels, "support_mask": mask}, names=["vog"]
    )
    assert frame["vog"][:100].notna().all() and frame["vog"][100:].isna().all()


def test_analyze_fills_vog_from_the_training_run():
    import difficulty_widget as dw

    data = dw.demo_data("digits")
    train, test = data.where_split("train"), data.where_split("test")
    run = train_small_model(train, "cnn", epochs=2, seed=0, record_logits=True, record_input_gradients=True,
                            progress=False)  # fmt: skip
    analysis = dw.analyze(run.model, train, test, probes=None, logits_per_epoch=run, progress=False)
    is_train = (analysis.df["split"] == "train").to_numpy()
    # the recorded VoG (eq. 2, checked by hand above), class-normalised here: per class (v - mean) / std
    raw = run.input_gradients.scores()
    assert len(raw) == len(train) and run.input_gradients.count == 2
    expected = np.empty(len(train))
    for c in np.unique(train.labels):
        members = train.labels == c
        v = raw[members]
        expected[members] = (v - v.mean()) / v.std() if v.std() > 0 else 0.0
    np.testing.assert_allclose(analysis.df.loc[is_train, "vog"], expected, rtol=1e-9, atol=1e-12)
    assert analysis.df.loc[~is_train, "vog"].isna().all()
    with pytest.raises(ValueError, match="input_gradients"):
        dw.analyze(run.model, train.subset(np.arange(100)), probes=None, input_gradients=run, progress=False)
