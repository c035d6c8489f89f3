"""A user's own torch datasets (difficulty_widget.data.datasets): class names, labels and Normalize found through
DataLoader / Subset / ConcatDataset, and dict items as (image, label) pairs; every expectation is written out here
from how the test data was built."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import ConcatDataset, DataLoader, Dataset, Subset, TensorDataset
from torchvision import datasets as tv_datasets
from torchvision import transforms as T
from torchvision.transforms import v2

from difficulty_widget.data import ImageData
from difficulty_widget.data.datasets import (
    DictItems,
    as_pairs,
    class_names_of,
    find_normalize,
    targets_of,
    unwrap,
)


class Labelled(Dataset):
    """A TensorDataset-like dataset with ``.targets`` (and optionally ``.classes`` and a transform)."""

    def __init__(self, n, classes=None, transform=None, offset=0):
        self.targets = torch.arange(offset, offset + n) % 3
        if classes is not None:
            self.classes = classes
        self.transform = transform
        self.loaded = 0

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, index):
        self.loaded += 1
        return torch.full((1, 2, 2), float(index)), int(self.targets[index])


class FakeHF:
    """A Hugging Face style dataset: dict items, ``features`` with ClassLabel names, column access by name."""

    def __init__(self, images, labels, names, image_key="img", label_key="fine_label"):
        self.images, self.labels = images, labels
        self.image_key, self.label_key = image_key, label_key
        self.features = {image_key: SimpleNamespace(), label_key: SimpleNamespace(names=names)}
        self.column_names = [image_key, label_key]
        self.rows_read = 0

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, key):
        if isinstance(key, str):
            return list(self.labels) if key == self.label_key else list(self.images)
        self.rows_read += 1
        return {self.image_key: self.images[key], self.label_key: int(self.labels[key])}


@pytest.fixture()
def folder(tmp_path):
    """An ImageFolder of 3 classes x 3 PNGs; returns it with the labels written out from the folder layout."""
    rng = np.random.default_rng(0)
    labels = []
    for c, name in enumerate(["ant", "bee", "cat"]):  # ImageFolder sorts classes and files by name
        (tmp_path / name).mkdir()
        for i in range(3):
            Image.fromarray(rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)).save(tmp_path / name / f"{i}.png")
            labels.append(c)
    return tv_datasets.ImageFolder(str(tmp_path)), np.array(labels)


def test_unwrap_follows_subsets_of_concatenations_in_row_order():
    a, b = Labelled(4), Labelled(5)
    pieces = unwrap(DataLoader(Subset(ConcatDataset([a, b]), [5, 0, 7, -1]), batch_size=2))
    assert [(d is a, d is b) for d, _ in pieces] == [(False, True), (True, False), (False, True)]
    assert [p.tolist() for _, p in pieces] == [[1], [0], [3, 4]]  # 5 -> b[1], 0 -> a[0], 7 -> b[3], -1 -> b[4]
    nested = unwrap(Subset(Subset(b, [4, 3, 2]), [2, 0]))
    assert len(nested) == 1 and nested[0][0] is b and nested[0][1].tolist() == [2, 4]
    assert unwrap(a) == [(a, None)]
    with pytest.raises(ValueError, match="out of range"):
        unwrap(Subset(a, [4]))


def test_class_names_through_subset_concat_dataloader_and_nesting(folder):
    images, _ = folder
    names = ["ant", "bee", "cat"]
    assert class_names_of(images) == names
    assert class_names_of(Subset(images, [1, 2])) == names
    assert class_names_of(ConcatDataset([Subset(images, [0]), images])) == names
    assert class_names_of(DataLoader(ConcatDataset([Labelled(2), Subset(images, [3])]))) == names  # unnamed part
    assert class_names_of(Labelled(3)) is None
    assert class_names_of(ImageData(np.zeros((2, 4, 4), np.uint8), [0, 1], ["x", "y"])) == ["x", "y"]
    assert class_names_of(FakeHF([None], [0], ["apple", "bear"])) == ["apple", "bear"]
    with pytest.raises(ValueError, match="name different classes"):
        class_names_of(ConcatDataset([images, Labelled(2, classes=["a", "b", "c"])]))


def test_targets_without_loading_images(folder):
    images, labels = folder
    images.loader = lambda path: pytest.fail("targets_of loaded an image")
    np.testing.assert_array_equal(targets_of(images), labels)
    np.testing.assert_array_equal(targets_of(Subset(images, [8, 0, 4])), labels[[8, 0, 4]])
    own = Labelled(5, offset=1)  # targets 1, 2, 0, 1, 2
    concat = ConcatDataset([Subset(images, [2, 3]), own])
    want = np.array([labels[2], labels[3], 1, 2, 0, 1, 2])
    np.testing.assert_array_equal(targets_of(DataLoader(concat, batch_size=3)), want)
    np.testing.assert_array_equal(targets_of(Subset(concat, [6, 0, -3])), want[[6, 0, -3]])
    assert own.loaded == 0 and targets_of(own).dtype == np.int64


def test_targets_from_samples_tensors_and_columns_or_none(folder):
    images, labels = folder
    del images.targets  # an older DatasetFolder-like object: the (path, class) samples remain
    np.testing.assert_array_equal(targets_of(images), labels)
    pair = TensorDataset(torch.zeros(4, 1, 2, 2), torch.tensor([3, 1, 0, 2]))
    assert targets_of(Subset(pair, [3, 0])).tolist() == [2, 3]
    assert targets_of(TensorDataset(torch.zeros(4, 1, 2, 2), torch.zeros(4))) is None  # float labels: not guessed
    hf = FakeHF([None] * 3, [2, 0, 1], ["a", "b", "c"])
    assert targets_of(hf).tolist() == [2, 0, 1] and hf.rows_read == 0
    assert targets_of(ConcatDataset([Labelled(2), TensorDataset(torch.zeros(2, 1))])) is None  # one part has none
    relabelled = tv_datasets.ImageFolder(str(images.root), target_transform=lambda y: 2 - y)
    assert targets_of(relabelled) is None


def test_dict_items_detect_keys_and_convert_pil_images():
    rng = np.random.default_rng(1)
    raw = [rng.integers(0, 256, (5, 4, 3), dtype=np.uint8) for _ in range(3)]
    hf = FakeHF([Image.fromarray(r) for r in raw], [2, 0, 1], ["a", "b", "c"])
    items = DictItems(hf)
    assert (items.image_key, items.label_key) == ("img", "fine_label") and len(items) == 3
    x, y = items[1]
    np.testing.assert_allclose(x.numpy(), raw[1].transpose(2, 0, 1) / 255.0, atol=1e-7)
    assert y == 0 and isinstance(y, int)
    assert items.classes == ["a", "b", "c"] and class_names_of(Subset(items, [0])) == ["a", "b", "c"]
    assert items.targets.tolist() == [2, 0, 1] and targets_of(Subset(items, [2])).tolist() == [1]
    xb, yb = next(iter(DataLoader(items, batch_size=3)))
    assert tuple(xb.shape) == (3, 3, 5, 4) and yb.tolist() == [2, 0, 1]
    grey = [{"input": torch.tensor(np.full((3, 3), 51, np.uint8)), "target": torch.tensor(1)}]
    x, y = DictItems(grey)[0]
    assert tuple(x.shape) == (1, 3, 3) and torch.allclose(x, torch.full((1, 3, 3), 0.2)) and y == 1


def test_dict_items_errors_name_the_keys_and_the_arguments():
    both = [{"image": 0, "pixel_values": 0, "label": 1}]
    with pytest.raises(ValueError, match=r"holds the image.*\['image', 'pixel_values', 'label'\].*image_key="):
        DictItems(both)
    x, y = DictItems([{"image": np.zeros((2, 2), np.uint8), "pixel_values": 0, "label": 1}], image_key="image")[0]
    assert tuple(x.shape) == (1, 2, 2) and y == 1
    with pytest.raises(ValueError, match=r"holds the label.*\['photo', 'cls'\].*label_key="):
        DictItems([{"photo": 0, "cls": 1}], image_key="photo")
    with pytest.raises(ValueError, match=r"label_key='y' is not a key of the items; they have keys \['x', 'cls'\]"):
        DictItems([{"x": 0, "cls": 1}], image_key="x", label_key="y")
    with pytest.raises(ValueError, match="needs items that are dicts"):
        DictItems([(0, 1)])
    with pytest.raises(ValueError, match="one integer class index"):
        DictItems([{"image": np.zeros((2, 2)), "label": 0.5}])[0]


def test_as_pairs_wraps_only_dict_items():
    pairs = Labelled(3)
    assert as_pairs(pairs) is pairs
    data = ImageData(np.zeros((2, 4, 4), np.uint8), [0, 1], ["x", "y"])
    assert as_pairs(data) is data
    loader = DataLoader(pairs)
    assert as_pairs(loader) is loader
    dicts = [{"img": np.zeros((2, 2), np.uint8), "label": 1}]
    wrapped = as_pairs(dicts)
    assert isinstance(wrapped, DictItems) and wrapped.dataset is dicts and wrapped[0][1] == 1
    assert as_pairs(dicts, image_key="img", label_key="label").image_key == "img"
    with pytest.raises(ValueError, match=r"pass the dataset instead \(loader.dataset\)"):
        as_pairs(DataLoader(dicts))
    with pytest.raises(ValueError, match="must be \\(image, label\\) pairs or dicts"):
        as_pairs([torch.zeros(1, 2, 2)])
    with pytest.raises(ValueError, match="apply to datasets whose items are dicts"):
        as_pairs(pairs, image_key="image")


def check_undoes(transform, stats, image):
    """``stats`` undo what ``transform`` did to ``image``: y * std + mean gives back the [0, 1] tensor."""
    y = transform(image).numpy().astype(np.float64)
    mean, std = stats
    x = np.asarray(image, np.float64).transpose(2, 0, 1) / 255.0
    np.testing.assert_allclose(y * std[:, None, None] + mean[:, None, None], x, atol=1e-6)


def test_find_normalize_in_nested_compose_v2_and_through_wrappers():
    image = Image.fromarray(np.random.default_rng(2).integers(0, 256, (4, 4, 3), dtype=np.uint8))
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    nested = T.Compose(
        [T.ToTensor(), T.Compose([T.RandomApply([T.Lambda(lambda t: t)], p=0.0), T.Normalize(mean, std)])]
    )
    stats = find_normalize(DataLoader(Subset(Labelled(3, transform=nested), [0])))
    np.testing.assert_allclose(stats[0], mean)
    np.testing.assert_allclose(stats[1], std)
    check_undoes(nested, stats, image)
    modern = v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True), v2.Normalize([0.5] * 3, [0.25] * 3)])
    stats = find_normalize(ConcatDataset([Labelled(2, transform=modern), Labelled(2, transform=modern)]))
    assert stats[0].tolist() == [0.5] * 3 and stats[1].tolist() == [0.25] * 3
    check_undoes(modern, stats, image)
    twice = T.Compose([T.ToTensor(), torch.nn.Sequential(T.Normalize([0.5], [0.5]), T.Normalize([0.1], [2.0]))])
    check_undoes(twice, find_normalize(Labelled(1, transform=twice)), image)  # two in a row combine into one
    assert find_normalize(Labelled(1, transform=T.ToTensor())) is None
    assert find_normalize(Labelled(1)) is None
    fake = tv_datasets.FakeData(size=2, transform=T.Compose([T.ToTensor(), T.Normalize([0.2], [0.3])]))
    assert find_normalize(fake)[1].tolist() == [0.3]

    class DictsWithTransform(list):
        transform = T.Compose([T.ToTensor(), T.Normalize([0.1], [0.2])])

    items = DictItems(DictsWithTransform([{"image": np.zeros((2, 2), np.uint8), "label": 0}]))
    assert [v.tolist() for v in find_normalize(Subset(items, [0]))] == [[0.1], [0.2]]  # through DictItems too
    with pytest.raises(ValueError, match="normalise differently"):
        find_normalize(ConcatDataset([Labelled(1, transform=modern), Labelled(1, transform=T.ToTensor())]))
