"""``analyze`` checks its arguments before the expensive pass: each wrong input fails in well under 2 s, after at
most the one traced batch (the model's forward calls are counted), with a message that says how to fix it."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn
from torch.utils.data import Dataset

import difficulty_widget as dw
from difficulty_widget.extract import make_model
from difficulty_widget.semantics import imagenet1k_classes


class Grey(Dataset):
    """``n`` seeded 28 x 28 grey images with ``targets`` and ``classes``, as torchvision datasets have them."""

    def __init__(self, n: int, n_classes: int = 10, size: int = 28, top_label: int | None = None) -> None:
        gen = torch.Generator().manual_seed(n)
        self.x = torch.rand((n, 1, size, size), generator=gen)
        self.targets = (torch.arange(n) % n_classes).tolist()
        if top_label is not None:
            self.targets[-1] = top_label
        self.classes = [f"c{i}" for i in range(n_classes)]

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.x[index], self.targets[index]


class Counted(nn.Module):
    """A model that counts its forward calls."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.model(x)


def _fails_early(model: Counted, match: str, *args, **kwargs) -> str:
    model.calls = 0
    start = time.perf_counter()
    with pytest.raises(ValueError, match=match) as err:
        dw.analyze(model, *args, progress=False, **kwargs)
    elapsed = time.perf_counter() - start
    assert model.calls <= 1, f"the model ran {model.calls} times before the error"  # the traced batch only
    assert elapsed < 2.0, f"the early check took {elapsed:.1f} s"
    return str(err.value)


@pytest.fixture()
def cnn() -> Counted:
    return Counted(make_model("cnn", 10, (28, 28), seed=0))


def test_one_epoch_of_dynamics_fails_before_the_pass(cnn):
    train, test = Grey(3000), Grey(500)
    message = _fails_early(cnn, "at least 2 recorded epochs", train, test, logits_per_epoch=np.zeros((1, 3000, 10)))
    assert "logits_per_epoch" in message
    _fails_early(cnn, r"shape \(n_epochs >= 2, 3000", train, test, logits_per_epoch=np.zeros((3, 2999, 10)))
    _fails_early(cnn, r"shape \(n_epochs >= 2, 3000, 10\)", train, test, logits_per_epoch=np.zeros((3, 3000, 7)))


def test_class_names_and_labels_against_the_model(cnn):
    message = _fails_early(cnn, "names but the model outputs 10 logits", Grey(3000, n_classes=7))
    assert "class_names" in message and "label_map" in message
    _fails_early(cnn, "class_names has 3 names", Grey(3000), class_names=["a", "b", "c"])
    message = _fails_early(
        cnn, "labels from 0 to 12", Grey(3000, top_label=12), class_names=[str(i) for i in range(10)]
    )
    assert "outside the model's 10 classes" in message
    _fails_early(cnn, "label_map values", Grey(3000), label_map=np.arange(10) + 5)


def test_bad_probe_names_and_mismatched_test_images_fail_before_the_pass(cnn):
    _fails_early(cnn, "unknown probe names", Grey(3000), probes=["model.block9"])
    _fails_early(cnn, "probes must be", Grey(3000), probes="every")
    wide = Counted(nn.Sequential(nn.Flatten(), nn.LazyLinear(10)))
    wide(torch.zeros(1, 1, 28, 28))
    _fails_early(wide, "test_data's images are", Grey(100), Grey(20, size=30))


def test_imagenet_wnid_folders_are_remapped_to_the_model_order(tmp_path):
    table = imagenet1k_classes()
    wnids = ["n01530575", "n01440764", "n02012849"]  # brambling (10), tench (0), crane the bird (134)
    rng = np.random.default_rng(0)
    for wnid in sorted(wnids):
        (tmp_path / wnid).mkdir()
        for i in range(4):
            Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(tmp_path / wnid / f"{i}.png")
    from torchvision import datasets, transforms

    folder = datasets.ImageFolder(tmp_path, transform=transforms.ToTensor())
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 16 * 16, 1000))
    analysis = dw.analyze(model, folder, probes=None, features=None, progress=False)
    index = {w: i for i, w in enumerate(table["wnid"])}
    expected = np.repeat([index[w] for w in sorted(wnids)], 4)  # folder order is sorted wnids
    np.testing.assert_array_equal(analysis.df["label"].to_numpy(), expected)
    assert analysis.wnids == table["wnid"].tolist()
    assert analysis.class_names[134] == "crane (bird)" and len(set(analysis.class_names)) == 1000
    assert "remapped" in analysis.provenance["classes"]
    np.testing.assert_array_equal(analysis.df["label_name"].iloc[:4], ["tench"] * 4)


def test_imagenet_names_are_unique_and_accepted_by_an_analysis():
    names = imagenet1k_classes()["name"].tolist()
    assert len(set(names)) == 1000
    assert {"crane (bird)", "crane (machine)", "maillot", "maillot (tank suit)"} <= set(names)
    frame = {"id": np.arange(3), "label": [0, 517, 638]}
    import pandas as pd

    analysis = dw.Analysis.from_dataframe(pd.DataFrame(frame), class_names=names)
    assert analysis.df["label_name"].tolist() == ["tench", "crane (machine)", "maillot"]
