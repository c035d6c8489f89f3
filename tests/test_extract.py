"""Extraction: probe shapes, restored modes, determinism, logits as the last probe, input types."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from difficulty_widget.data.torch_dataset import images_to_tensor
from difficulty_widget.extract import SmallCNN, SmallMLP, extract, make_model, plan_extraction, reduce_embedding


@pytest.fixture()
def cnn() -> SmallCNN:
    return make_model("cnn", 4, (28, 28), seed=0)


def test_default_probes_and_their_shapes(cnn, tiny_images):
    ext = extract(cnn, tiny_images, probes="default", progress=False)
    dims = {name: arr.shape for name, arr in ext.probes.items()}
    n = len(tiny_images)
    assert dims == {
        "input": (n, 784),
        "block1": (n, 16 * 14 * 14),
        "block2": (n, 32 * 7 * 7),
        "block3": (n, 64 * 4 * 4),
        "head": (n, 128),
        "logits": (n, 4),
    }
    top = plan_extraction(cnn, tiny_images, probes="top-level").probe_names
    assert top[-2:] == ["head", "logits"]  # the classifier *is* the logits: not repeated
    assert all(arr.dtype == np.float32 for arr in ext.probes.values())
    assert ext.reductions["block1"] == {
        "module": "block1",
        "kind": "block",
        "shape": [16, 14, 14],
        "layout": "image",
        "dim": 3136,
        "pooled": False,
    }
    assert ext.reductions["head"]["kind"] == "penultimate"  # the input of the final linear layer


def test_final_probe_equals_logits_and_input_probe_equals_scaled_images(cnn, tiny_images):
    ext = extract(cnn, tiny_images, probes="default", progress=False)
    np.testing.assert_array_equal(ext.probes[ext.probe_names[-1]], ext.logits)
    np.testing.assert_array_equal(
        ext.probes["input"], tiny_images.images.reshape(len(tiny_images), -1) / np.float32(255)
    )
    np.testing.assert_array_equal(ext.labels, tiny_images.labels)
    np.testing.assert_array_equal(ext.predictions, ext.logits.argmax(1))


def test_probe_values_match_a_manual_forward(cnn, tiny_images):
    ext = extract(cnn, tiny_images, probes=["block2", "head"], batch_size=7, progress=False)
    cnn.eval()
    with torch.no_grad():
        x = images_to_tensor(tiny_images.images)
        b2 = cnn.block2(cnn.block1(x))
        head = cnn.head(cnn.block3(b2))
    np.testing.assert_allclose(ext.probes["block2"], b2.reshape(len(x), -1).numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ext.probes["head"], head.numpy(), rtol=1e-5, atol=1e-6)


def test_modes_are_restored(cnn, tiny_images):
    cnn.train()
    cnn.block2.eval()  # a mixed state, as with frozen batch-norm
    before = {name: m.training for name, m in cnn.named_modules()}
    extract(cnn, tiny_images, probes="default", progress=False)
    assert {name: m.training for name, m in cnn.named_modules()} == before
    cnn.eval()
    extract(cnn, tiny_images, progress=False)
    assert not any(m.training for m in cnn.modules())


def test_two_runs_are_identical_and_batch_size_does_not_matter(cnn, tiny_images):
    a = extract(cnn, tiny_images, probes="default", batch_size=8, progress=False)
    b = extract(cnn, tiny_images, probes="default", batch_size=8, progress=False)
    c = extract(cnn, tiny_images, probes="default", batch_size=40, progress=False)
    for name in a.probes:
        np.testing.assert_array_equal(a.probes[name], b.probes[name])
        np.testing.assert_allclose(a.probes[name], c.probes[name], rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(a.logits, b.logits)


def test_every_input_type_gives_the_same_result(cnn, tiny_images):
    want = extract(cnn, tiny_images, progress=False).logits
    x = images_to_tensor(tiny_images.images)
    y = torch.from_numpy(tiny_images.labels)
    inputs = [
        tiny_images.as_dataset(),
        (tiny_images.images, tiny_images.labels),
        (x, y),
        TensorDataset(x, y),
        DataLoader(TensorDataset(x, y), batch_size=16),
    ]
    for data in inputs:
        np.testing.assert_allclose(extract(cnn, data, progress=False).logits, want, rtol=1e-5, atol=1e-6)


def test_max_probe_dim_pools_as_documented(cnn, tiny_images):
    ext = extract(cnn, tiny_images, probes=["block1", "head"], max_probe_dim=784, progress=False)
    assert (ext.reductions["block1"]["dim"], ext.reductions["block1"]["pooled"]) == (784, True)
    assert ext.reductions["head"]["pooled"] is False
    full = extract(cnn, tiny_images, probes=["block1"], progress=False).probes["block1"]
    # 16 x 14 x 14 -> 16 x 7 x 7: the mean of each 2 x 2 cell, computed here by reshaping
    manual = full.reshape(-1, 16, 7, 2, 7, 2).mean(axis=(3, 5)).reshape(len(full), -1)
    np.testing.assert_allclose(ext.probes["block1"], manual, rtol=1e-5, atol=1e-6)


def test_reduce_embedding_bounds_every_shape():
    for shape in [(3, 512, 7, 7), (3, 3000), (3, 4096, 2, 2), (3, 10)]:
        out = reduce_embedding(torch.randn(shape), 100)
        assert out.shape[0] == 3 and out.shape[1] <= 100
    np.testing.assert_array_equal(reduce_embedding(torch.ones(2, 300), 100).numpy(), np.ones((2, 100)))


def test_sequential_model_and_mlp_probes(tiny_images):
    torch.manual_seed(0)
    seq = nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 4))
    ext = extract(seq, tiny_images, probes="top-level", progress=False)
    assert ext.probe_names == ["input", "0", "1", "2", "logits"]  # the older rule, as it was
    # no blocks, only layers: the layers but the final linear one; the flatten is the input itself (dropped)
    assert extract(seq, tiny_images, probes="blocks", progress=False).probe_names == ["input", "1", "2", "logits"]
    mlp = SmallMLP(n_classes=4)
    ext = extract(mlp, tiny_images, probes="default", progress=False)
    assert [a.shape[1] for a in ext.probes.values()] == [784, 256, 128, 4]


def test_bad_input(cnn, tiny_images):
    with pytest.raises(ValueError, match="unknown probe names"):
        extract(cnn, tiny_images, probes=["block9"], progress=False)
    with pytest.raises(ValueError, match="probes must be"):
        extract(cnn, tiny_images, probes="all", progress=False)
    with pytest.raises(ValueError, match="must not shuffle"):
        extract(cnn, DataLoader(tiny_images.as_dataset(), shuffle=True), progress=False)
    with pytest.raises(ValueError, match="memory_budget must be"):
        extract(cnn, tiny_images, memory_budget="lots", progress=False)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        extract(cnn, tiny_images, batch_size=0, progress=False)
    with pytest.raises(ValueError, match="data must be"):
        extract(cnn, [1, 2, 3], progress=False)
    with pytest.raises(ValueError, match="labels has length"):
        extract(cnn, (tiny_images.images, tiny_images.labels[:5]), progress=False)
    with pytest.raises(ValueError, match="logits of shape"):
        extract(nn.Sequential(nn.Identity()), tiny_images, progress=False)  # returns images, not logits
