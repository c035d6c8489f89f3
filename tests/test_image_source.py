"""ImageSource over a user's own datasets: normalised datasets drawn in their true colours, tuples of splits in row
order, dict items, display=, the out-of-range warning and the count-mismatch hint. Expected thumbnails are the
raw PNG files decoded here with PIL."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import ConcatDataset, DataLoader, Dataset, Subset
from torchvision import datasets as tv_datasets
from torchvision import transforms as T
from torchvision.transforms import v2

from difficulty_widget.data import ImageData
from difficulty_widget.data.image_source import ImageSource

IMAGENET_MEAN, IMAGENET_STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
SIZE = 10  # thumbnails at the images' own size: no resampling between the PNG and the thumbnail


def write_folder(root, n_per_class, mode, seed=0):
    """An ImageFolder tree of PNGs; returns the PNG files' decoded pixels in ImageFolder's order (sorted)."""
    rng = np.random.default_rng(seed)
    shape = (SIZE, SIZE, 3) if mode == "RGB" else (SIZE, SIZE)
    raw = []
    for name in ("a", "b"):
        (root / name).mkdir(parents=True)
        for i in range(n_per_class):
            Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(root / name / f"{i}.png")
    for name in ("a", "b"):
        for i in range(n_per_class):
            with Image.open(root / name / f"{i}.png") as img:
                raw.append(np.asarray(img))
    return raw


def decode(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)))


def assert_within_one_grey_level(pngs, raw):
    assert len(pngs) == len(raw)
    for png, want in zip(pngs, raw, strict=True):
        got = decode(png)
        assert got.shape == want.shape
        assert np.abs(got.astype(int) - want.astype(int)).max() <= 1


def test_normalised_rgb_folder_is_drawn_as_the_raw_pngs(tmp_path):
    raw = write_folder(tmp_path, 3, "RGB")
    transform = T.Compose([T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
    data = tv_datasets.ImageFolder(str(tmp_path), transform=transform)
    assert data[0][0].min() < -0.5  # the model's inputs really are normalised
    source = ImageSource(data, len(raw))
    assert_within_one_grey_level(source.thumbnails(range(len(raw)), SIZE), raw)


def test_normalised_grey_folder_through_v2_subset_and_dataloader(tmp_path):
    raw = write_folder(tmp_path, 2, "L")
    transform = v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True), v2.Normalize([0.5], [0.25])])
    data = tv_datasets.ImageFolder(str(tmp_path), transform=transform, loader=lambda p: Image.open(p).convert("L"))
    order = [3, 0, 2]
    source = ImageSource(DataLoader(Subset(data, order), batch_size=2), len(order))
    assert_within_one_grey_level(source.thumbnails(range(3), SIZE), [raw[i] for i in order])


def test_each_part_of_a_concatenation_is_undone_with_its_own_normalize(tmp_path):
    raw_a = write_folder(tmp_path / "a", 1, "RGB", seed=1)
    raw_b = write_folder(tmp_path / "b", 1, "RGB", seed=2)
    a = tv_datasets.ImageFolder(
        str(tmp_path / "a"), T.Compose([T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
    )
    b = tv_datasets.ImageFolder(str(tmp_path / "b"), T.Compose([T.ToTensor(), T.Normalize([0.5] * 3, [0.5] * 3)]))
    source = ImageSource(ConcatDataset([a, b]), 4)
    assert_within_one_grey_level(source.thumbnails([0, 1, 2, 3], SIZE), raw_a + raw_b)


def test_a_tuple_of_datasets_is_its_parts_in_order(tmp_path):
    raw_train = write_folder(tmp_path / "train", 2, "RGB", seed=3)
    raw_test = write_folder(tmp_path / "test", 1, "RGB", seed=4)
    normalise = T.Compose([T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
    train = tv_datasets.ImageFolder(str(tmp_path / "train"), normalise)
    test = tv_datasets.ImageFolder(str(tmp_path / "test"), T.ToTensor())
    source = ImageSource((train, test), 6)
    want = [raw_test[1], raw_train[0], raw_test[0], raw_train[1], raw_train[2], raw_train[3]]  # train rows 0..3
    assert_within_one_grey_level(source.thumbnails([5, 0, 4, 1, 2, 3], SIZE), want)
    stack = np.stack(raw_test)  # arrays, ImageData and datasets mix
    mixed = ImageSource([ImageData(stack, [0, 1], ["x", "y"]), stack, test], 6)
    assert_within_one_grey_level(mixed.thumbnails([1, 2, 5], SIZE), [raw_test[1], raw_test[0], raw_test[1]])


def test_count_mismatch_names_both_counts_and_hints_at_the_splits(tmp_path):
    raw = write_folder(tmp_path, 2, "RGB")
    data = tv_datasets.ImageFolder(str(tmp_path), T.ToTensor())
    with pytest.raises(ValueError, match=r"images has 4 entries but the table has 9 rows \(4 train rows, then 5 test"):
        ImageSource(data, 9, split_counts={"test": 5, "train": 4})
    with pytest.raises(ValueError, match=r"pass images=\(train, test\)"):
        ImageSource(data, 6, split_counts={"train": 2, "test": 4})  # only the test part was passed
    with pytest.raises(ValueError, match=r"display has 8 entries \(4 \+ 4\) but the table has 9 rows$"):
        ImageSource(None, 9, display=(data, data), split_counts={"train": 4, "test": 5})
    with pytest.raises(ValueError, match=r"has 4 entries but the table has 5 rows$"):
        ImageSource(data, 5)  # no splits: no hint
    assert len(raw) == 4


class FloatImages(Dataset):
    """Float C x H x W images outside [0, 1] and no Normalize anywhere (a custom standardisation)."""

    def __init__(self, images):
        self.images = images

    def __len__(self):
        return len(self.images)

    def __getitem__(self, index):
        return torch.from_numpy(self.images[index]), 0


def test_out_of_range_floats_warn_once_and_are_min_max_scaled():
    rng = np.random.default_rng(5)
    images = rng.normal(0, 2, (3, 1, 4, 4)).astype(np.float32)
    source = ImageSource(FloatImages(images), 3)
    with pytest.warns(UserWarning, match=r"outside \[0, 1\].*no transforms.Normalize.*display=") as seen:
        pngs = source.thumbnails([0, 1], 4)
    assert len([w for w in seen if issubclass(w.category, UserWarning)]) == 1
    for png, x in zip(pngs, images[:2], strict=True):
        lo, hi = x.min(), x.max()
        want = np.rint((x[0].astype(np.float64) - lo) / (hi - lo) * 255).astype(np.uint8)
        assert np.abs(decode(png).astype(int) - want).max() <= 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        source.thumbnails([2], 4)  # once per source
        ImageSource(FloatImages(np.clip(images, 0, 1)), 3).thumbnails([0, 1, 2], 4)  # in range: no warning


def test_dict_items_and_display(tmp_path):
    raw = write_folder(tmp_path, 2, "RGB")
    hf_like = [{"img": Image.fromarray(r), "fine_label": i % 2} for i, r in enumerate(raw)]
    assert_within_one_grey_level(ImageSource(hf_like, 4).thumbnails(range(4), SIZE), raw)
    tensors = [{"pixel_values": T.ToTensor()(Image.fromarray(r)), "label": 0} for r in raw]
    assert_within_one_grey_level(ImageSource(tensors, 4).thumbnails([2], SIZE), [raw[2]])
    with pytest.raises(ValueError, match=r"holds the image.*\['photo', 'label'\]"):
        ImageSource([{"photo": 0, "label": 0}], 1)
    unreadable = FloatImages(np.zeros((4, 1, SIZE, SIZE), np.float32) - 5)  # what the model reads
    source = ImageSource(unreadable, 4, display=np.stack(raw))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_within_one_grey_level(source.thumbnails([3, 1], SIZE), [raw[3], raw[1]])
