"""Loaders given the wrong files (issue 18): one clear error naming the file and what was expected.

IDX files (MNIST, Fashion-MNIST): a ``.gz`` that is not gzip, a damaged or truncated gzip stream, an empty file, a
truncated header, a header that declares more (or less) than the file holds, a folder. CIFAR-10H: an ``.npz``, a text
file, a pickle of objects, a truncated ``.npy``, the wrong shape or dtype. The dataset loaders: bad arguments, and IDX
files whose contents are not images and labels.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from difficulty_widget.data import (
    DATA_ENV,
    ImageData,
    counts_from_annotations,
    load_cifar10h,
    load_fashion_mnist,
    load_mnist,
    read_idx,
    thumbnails,
    write_idx,
)
from difficulty_widget.data.image_source import ImageSource
from difficulty_widget.data.thumbnails import MAX_THUMB_SIZE


def idx_bytes(array: np.ndarray, code: int = 0x08) -> bytes:
    return bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, ">u4").tobytes() + array.tobytes()


GOOD = idx_bytes(np.arange(12, dtype=np.uint8).reshape(3, 4))
HUGE = bytes([0, 0, 8, 3]) + np.array([2**31, 2**31, 2**31], ">u4").tobytes() + b"abc"
BAD_IDX = {
    "not gzip but .gz": ("x.gz", b"this is not gzip at all", r"ends in \.gz but is not gzip-compressed"),
    "html page as .gz": ("x.gz", b"<html>404</html>", r"not gzip-compressed"),
    "truncated gzip": ("x.gz", gzip.compress(GOOD)[:-6], r"the gzip stream is damaged or truncated"),
    "damaged gzip": ("x.gz", gzip.compress(GOOD)[:12] + b"\x00" * 20, r"the gzip stream is damaged or truncated"),
    "empty": ("x-idx1-ubyte", b"", r"is not an IDX file \(bad magic number none: empty\)"),
    "bad magic": ("x-idx1-ubyte", b"\x01\x02\x08\x01" + b"\x00" * 8, r"is not an IDX file \(bad magic number 01020801"),
    "unknown type code": ("x-idx1-ubyte", b"\x00\x00\x07\x01" + b"\x00" * 8, r"bad magic number 00000701"),
    "truncated header": ("x-idx3-ubyte", bytes([0, 0, 8, 3, 0, 0]), r"the IDX header is truncated: it declares 3"),
    "truncated header gz": ("x.gz", gzip.compress(bytes([0, 0, 8, 3, 0])), r"IDX header is truncated"),
    "truncated data": ("x-idx2-ubyte", GOOD[:-1], r"header declares shape \(3, 4\) \(12 bytes\) but 11 follow"),
    "extra data": ("x-idx2-ubyte", GOOD + b"\x00", r"\(12 bytes\) but 13 follow"),
    "extra data gz": ("x.gz", gzip.compress(GOOD + b"\x00"), r"\(12 bytes\) but more than that follow"),
    "huge declared shape": ("x-idx3-ubyte", HUGE, r"header declares shape \(2147483648, 2147483648, 2147483648\)"),
    "huge declared shape gz": ("x.gz", gzip.compress(HUGE), r"but 3 follow"),
}


@pytest.mark.parametrize(("name", "content", "message"), list(BAD_IDX.values()), ids=list(BAD_IDX))
def test_bad_idx_files_raise_one_clear_error_naming_the_file(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message) as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_idx_paths_that_are_not_files(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no such IDX file: .*missing"):
        read_idx(tmp_path / "missing")
    with pytest.raises(ValueError, match="is a folder; expected an IDX file"):
        read_idx(tmp_path)
    with pytest.raises(TypeError, match=r"path must be a str or os\.PathLike, got int"):
        read_idx(3)


def test_good_idx_files_still_read_plain_gzip_and_gzip_without_the_suffix(tmp_path):
    array = np.arange(24, dtype=np.int16).reshape(2, 3, 4)
    write_idx(tmp_path / "a.gz", array)
    np.testing.assert_array_equal(read_idx(tmp_path / "a.gz"), array)
    (tmp_path / "b").write_bytes((tmp_path / "a.gz").read_bytes())  # compressed, no .gz: read by its magic
    np.testing.assert_array_equal(read_idx(tmp_path / "b"), array)
    with pytest.raises(ValueError, match=r"array dtype complex128 has no IDX type code"):
        write_idx(tmp_path / "c", np.zeros(2, complex))


def fake_mnist(directory: Path, images: bytes, labels: bytes) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "train-images-idx3-ubyte").write_bytes(images)
    (directory / "train-labels-idx1-ubyte").write_bytes(labels)
    return directory


IMAGES = idx_bytes(np.zeros((4, 28, 28), np.uint8))
LABELS = idx_bytes(np.array([0, 1, 2, 3], np.uint8))
BAD_DATASETS = {
    "labels file as images": (LABELS, LABELS, r"train-images-idx3-ubyte must hold uint8 images .* \(4,\)"),
    "float images": (idx_bytes(np.zeros((4, 28, 28), ">f4"), 0x0D), LABELS, r"images-idx3-ubyte must hold uint8"),
    "images as labels": (IMAGES, IMAGES, r"train-labels-idx1-ubyte must hold integer labels of shape \(n,\)"),
    "label out of range": (IMAGES, idx_bytes(np.array([0, 1, 2, 10], np.uint8)), r"labels from 0 to 10; expected"),
    "counts differ": (IMAGES, idx_bytes(np.array([0, 1], np.uint8)), r"train images \(4, 28, 28\).* do not match"),
    "truncated images": (IMAGES[:-5], LABELS, r"train-images-idx3-ubyte: header declares shape \(4, 28, 28\)"),
    "no images": (
        idx_bytes(np.zeros((0, 28, 28), np.uint8)),
        idx_bytes(np.zeros(0, np.uint8)),
        r"train-images-idx3-ubyte holds no images \(shape \(0, 28, 28\)\)",
    ),
    "images 0 pixels high": (
        idx_bytes(np.zeros((4, 0, 5), np.uint8)),
        LABELS,
        r"train-images-idx3-ubyte holds images of 0 x 5 pixels",
    ),
    "images 0 pixels wide": (
        idx_bytes(np.zeros((4, 5, 0), np.uint8)),
        LABELS,
        r"images-idx3-ubyte holds images of 5 x 0",
    ),
}


@pytest.mark.parametrize(("images", "labels", "message"), list(BAD_DATASETS.values()), ids=list(BAD_DATASETS))
def test_dataset_loaders_name_the_wrong_file(tmp_path, images, labels, message):
    root = fake_mnist(tmp_path / "mnist", images, labels)
    with pytest.raises(ValueError, match=message):
        load_mnist("train", root=root)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"split": "validation"}, ValueError, r"split must be one of \('train', 'test', 'all'\), got 'validation'"),
        ({"split": 0}, ValueError, r"split must be one of"),
        ({"root": 5}, TypeError, r"root must be a folder path .* got int"),
        ({"download": "yes"}, ValueError, r"download must be True or False, got 'yes'"),
    ],
)
def test_dataset_loader_arguments(tmp_path, monkeypatch, kwargs, error, message):
    monkeypatch.delenv(DATA_ENV, raising=False)
    root = fake_mnist(tmp_path / "m", IMAGES, LABELS)
    with pytest.raises(error, match=message):
        load_fashion_mnist(**{"root": root, **kwargs})


def test_a_file_given_as_root_is_refused(tmp_path):
    (tmp_path / "train-images-idx3-ubyte").write_bytes(IMAGES)
    with pytest.raises(ValueError, match=r"root must be a folder holding the IDX files, got the file"):
        load_mnist("train", root=tmp_path / "train-images-idx3-ubyte")


def _npy(path: Path, array) -> Path:
    np.save(path, array, allow_pickle=True)
    return path


def _bytes(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


GOOD_COUNTS = np.ones((4, 10), np.int64)
BAD_CIFAR10H = {
    "npz archive": (lambda p: np.savez(p / "h.npz", counts=GOOD_COUNTS) or p / "h.npz", r"is a \.npz archive"),
    "csv text": (lambda p: _bytes(p / "h.csv", b"1,2,3\n4,5,6\n"), r"is not a NumPy \.npy file \(it starts with"),
    "empty file": (lambda p: _bytes(p / "h.npy", b""), r"is not a NumPy \.npy file"),
    "gzip": (lambda p: _bytes(p / "h.npy.gz", gzip.compress(b"x")), r"is not a NumPy \.npy file"),
    "objects": (lambda p: _npy(p / "h.npy", np.array([{"a": 1}], dtype=object)), r"holds Python objects"),
    "truncated data": (
        lambda p: _bytes(p / "h.npy", _npy(p / "g.npy", GOOD_COUNTS).read_bytes()[:-20]),
        r"is a damaged or truncated \.npy file",
    ),
    "truncated header": (
        lambda p: _bytes(p / "h.npy", _npy(p / "g.npy", GOOD_COUNTS).read_bytes()[:30]),
        r"is a damaged or truncated \.npy file",
    ),
    "one dimension": (lambda p: _npy(p / "h.npy", np.ones(10)), r"must hold an \(n_images, 10\) matrix, got shape"),
    "wrong classes": (lambda p: _npy(p / "h.npy", np.ones((3, 9))), r"got shape \(3, 9\)"),
    "no rows": (lambda p: _npy(p / "h.npy", np.ones((0, 10))), r"got shape \(0, 10\)"),
    "booleans": (lambda p: _npy(p / "h.npy", np.ones((3, 10), bool)), r"must hold numbers, got dtype bool"),
    "negative counts": (lambda p: _npy(p / "h.npy", -GOOD_COUNTS), r"contains negative values"),
    "NaN": (lambda p: _npy(p / "h.npy", np.full((2, 10), np.nan)), r"contains NaN or infinite values"),
    "fractions not summing to 1": (lambda p: _npy(p / "h.npy", np.full((2, 10), 0.5)), r"do not all sum to 1"),
    "unterminated header": (lambda p: _bytes(p / "h.npy", _npy_header("((((2, 10), }")), r"damaged or truncated \.npy"),
    "header not a dict": (lambda p: _bytes(p / "h.npy", _npy_header("), }")), r"is a damaged or truncated \.npy file"),
    "uint64 counts beyond int64": (
        lambda p: _npy(p / "h.npy", np.full((2, 10), 2**63 + 5, np.uint64)),
        r"holds a count of 9\.22337e\+18, beyond 2147483647",
    ),
    "whole-number float counts 1e30": (
        lambda p: _npy(p / "h.npy", np.full((2, 10), 1e30)),
        r"holds a count of 1e\+30, beyond 2147483647",
    ),
    "int64 counts 2**40": (lambda p: _npy(p / "h.npy", np.full((2, 10), 2**40)), r"holds a count of 1\.09951e\+12"),
    "negative float counts": (lambda p: _npy(p / "h.npy", np.full((2, 10), -1e30)), r"contains negative values"),
}


def _npy_header(shape: str) -> bytes:
    """A version 1.0 .npy header whose dict is cut after ``'shape': `` + ``shape``: NumPy's parser fails on it."""
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': " + shape
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode()


@pytest.mark.parametrize(("make", "message"), list(BAD_CIFAR10H.values()), ids=list(BAD_CIFAR10H))
def test_load_cifar10h_names_the_file_and_what_was_expected(tmp_path, make, message):
    path = make(tmp_path)
    with pytest.raises(ValueError, match=message) as info:
        load_cifar10h(path)
    assert str(path) in str(info.value)


def test_load_cifar10h_arguments(tmp_path):
    with pytest.raises(TypeError, match=r"path must be a str or os\.PathLike, got int"):
        load_cifar10h(3)
    path = _npy(tmp_path / "cifar10h-counts.npy", GOOD_COUNTS)
    with pytest.raises(ValueError, match="download must be True or False, got 'no'"):
        load_cifar10h(path, download="no")
    assert load_cifar10h(tmp_path).counts.shape == (4, 10)  # the folder, and the file itself, still work
    assert load_cifar10h(path).counts.dtype == np.int64


def test_load_cifar10h_counts_beyond_the_bound_are_not_called_negative(tmp_path):
    for array in (np.full((2, 10), 2**63 + 5, np.uint64), np.full((2, 10), 1e30)):
        with pytest.raises(ValueError, match=r"beyond 2147483647 \(2\*\*31 - 1\)") as info:
            load_cifar10h(_npy(tmp_path / "h.npy", array))
        assert "negative" not in str(info.value)
    big = load_cifar10h(_npy(tmp_path / "h.npy", np.full((2, 10), 2**31 - 1, np.uint64)))  # the bound itself
    assert big.counts.dtype == np.int64 and int(big.counts.max()) == 2**31 - 1


def test_load_cifar10h_cifar10_root_must_be_a_path(tmp_path):
    path = _npy(tmp_path / "cifar10h-counts.npy", GOOD_COUNTS)
    for root in (5, b"/tmp", ["/tmp"]):
        with pytest.raises(TypeError, match=r"cifar10_root must be a folder path \(str or os\.PathLike\) or None, got"):
            load_cifar10h(path, cifar10_root=root)


# ---------------------------------------------------------------------------------------------- paths the OS refuses
def test_paths_with_names_too_long_raise_value_errors_naming_them(tmp_path):
    long = tmp_path / ("n" * 300)
    with pytest.raises(ValueError, match=r"path .*nnnn cannot be read as an IDX file \(File name too long\)"):
        read_idx(long)
    with pytest.raises(ValueError, match=r"root must be a folder holding the IDX files; cannot use .*File name too"):
        load_mnist("train", root=long)
    with pytest.raises(ValueError, match=r"path: cannot use .*nnnn \(File name too long\)"):
        load_cifar10h(long)


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root may read any file")
def test_an_unreadable_idx_file_is_a_value_error(tmp_path):
    path = tmp_path / "x-idx1-ubyte"
    path.write_bytes(GOOD)
    path.chmod(0o000)
    try:
        with pytest.raises(ValueError, match=r"cannot be read as an IDX file \(Permission denied\)"):
            read_idx(path)
    finally:
        path.chmod(0o600)


# ---------------------------------------------------------------------------------------------- annotations
ONE = pd.DataFrame({"annotator": [0, 1], "instance": [0, 0], "label": [0, 1]})


@pytest.mark.parametrize("value", [0.5, "no", "False", 1, None, np.array([True])], ids=repr)
def test_counts_from_annotations_allow_repeats_must_be_true_or_false(value):
    with pytest.raises(TypeError, match=r"allow_repeats must be True or False"):
        counts_from_annotations(ONE, allow_repeats=value)


BAD_TIMES = {
    "booleans": [True, False],
    "datetimes": pd.to_datetime(["2020-01-01", "2020-01-02"]),
    "durations": pd.to_timedelta([1, 2], unit="s"),
    "booleans as objects": pd.Series([True, None], dtype=object),
    "complex": np.array([1 + 1j, 2]),
    "text": ["1.5", "2"],
    "nullable booleans": pd.array([True, None], dtype="boolean"),
}


@pytest.mark.parametrize("times", list(BAD_TIMES.values()), ids=list(BAD_TIMES))
def test_counts_from_annotations_reaction_time_must_hold_numbers(times):
    with pytest.raises(ValueError, match=r"table\['reaction_time'\] must be numeric \(seconds or milliseconds"):
        counts_from_annotations(ONE.assign(reaction_time=times))


def test_counts_from_annotations_reaction_times_that_are_numbers():
    table = pd.DataFrame({"annotator": [0, 1, 2], "instance": [0, 0, 1], "label": [0, 1, 1]})
    for times in (pd.array([1, None, 3], dtype="Int64"), pd.Series([1, None, 3.5], dtype=object), [1, np.nan, 3]):
        median = counts_from_annotations(table.assign(reaction_time=times)).median_reaction_time
        assert median.dtype == np.float64 and median[0] == 1.0 and median[1] in (3.0, 3.5)


@pytest.mark.parametrize(
    ("table", "kwargs", "message"),
    [
        ({"instance": [0, 2**40], "label": [0, 1]}, {}, r"1099511627777 rows \(the largest table\['instance'\] \+ 1\)"),
        ({"instance": [0, 2**62], "label": [0, 1]}, {}, r"4611686018427387905 rows"),
        ({"instance": [0, 1], "label": [0, 2**40]}, {}, r"1099511627777 columns \(the largest table\['label'\] \+ 1\)"),
        ({"instance": [0, 1], "label": [0, 1]}, {"n_instances": 10**12}, r"1000000000000 rows \(n_instances\)"),
        ({"instance": [0, 1], "label": [0, 1]}, {"n_classes": 2**27 + 1}, r"134217729 columns \(n_classes\)"),
    ],
)
def test_counts_from_annotations_refuse_tables_too_large_before_allocating(table, kwargs, message):
    with pytest.raises(ValueError, match=message) as info:
        counts_from_annotations(pd.DataFrame({"annotator": [0, 1], **table}), **kwargs)
    assert "more than 268435456 (2**28, 2 GiB)" in str(info.value)


def test_counts_from_annotations_instances_beyond_n_instances():
    table = pd.DataFrame({"annotator": [0, 1], "instance": [0, 2**62], "label": [0, 3]})
    with pytest.raises(ValueError, match=r"n_instances is 1 but table\['instance'\] goes up to 4611686018427387904"):
        counts_from_annotations(table, n_instances=1, n_classes=4)
    assert counts_from_annotations(ONE, n_instances=2**20, n_classes=2).counts.shape == (2**20, 2)  # large is fine


# ---------------------------------------------------------------------------------------------- ImageData
IMG = np.zeros((4, 5, 5), np.uint8)
LAB = np.array([0, 1, 2, 1])
NAMES = ["a", "b", "c"]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"class_names": "abc"}, TypeError, r"class_names must be a list of strings, got str 'abc'"),
        ({"class_names": b"abc"}, TypeError, r"class_names must be a list of strings, got bytes"),
        ({"class_names": [0, 1, 2]}, TypeError, r"class_names\[0\] must be a string, got int"),
        ({"class_names": ["a", "a", "b"]}, ValueError, r"class_names must be unique, .* more than once: \['a'\]"),
        ({"wnids": "n01"}, TypeError, r"wnids must be a list of strings, got str 'n01'"),
        ({"wnids": ["n01", None, "n03"]}, TypeError, r"wnids\[1\] must be a string, got NoneType"),
        ({"wnids": ["n01", "n02"]}, ValueError, r"wnids has 2 entries, expected one per class \(3\)"),
        ({"split": "train"}, TypeError, r"split must hold one split name per image, got the single 'train'"),
        ({"split": ["train", None, "test", "train"]}, ValueError, r"split must hold a split name .* split\[1\] = None"),
        ({"split": ["train", np.nan, 3, "t"]}, ValueError, r"2 of 4 entries are not strings, e.g. split\[1\] = nan"),
    ],
)
def test_image_data_names_and_splits(kwargs, error, message):
    with pytest.raises(error, match=message):
        ImageData(IMG, LAB, **{"class_names": NAMES, **kwargs})


def test_image_data_accepts_names_as_any_sequence_of_strings():
    data = ImageData(IMG, LAB, np.array(NAMES), wnids=("n1", "n2", "n3"), split=np.array(["a", "b", "a", "b"]))
    assert data.class_names == NAMES and all(type(c) is str for c in data.class_names)
    assert data.wnids == ["n1", "n2", "n3"] and data.where_split("b").ids.tolist() == [1, 3]


@pytest.mark.parametrize(
    ("chosen", "message"),
    [
        (
            [0.5, 1.0],
            r"mask_or_index must be a boolean mask of shape \(4,\) or a 1-D sequence of integer positions, got",
        ),
        ([10], r"mask_or_index holds positions out of range \[0, 4\): \[10\]"),
        ([-1], r"mask_or_index holds positions out of range \[0, 4\): \[-1\]"),
        (np.array([2**63 + 1], np.uint64), r"out of range \[0, 4\): \[9223372036854775809\]"),
        ([], r"mask_or_index chooses no instances; an ImageData holds at least one image"),
        (np.zeros(4, bool), r"mask_or_index chooses no instances"),
        (np.ones(3, bool), r"mask_or_index: a boolean mask must have shape \(4,\), got \(3,\)"),
        ([0, 0], r"mask_or_index chooses positions more than once: \[0\]"),
        ([[0, 1]], r"mask_or_index must be a boolean mask .* of shape \(1, 2\)"),
        (3, r"mask_or_index must be a boolean mask .* of shape \(\)"),
        (["0"], r"mask_or_index must be a boolean mask .* got dtype <U1"),
    ],
    ids=repr,
)
def test_image_data_subset_names_mask_or_index(chosen, message):
    with pytest.raises(ValueError, match=message):
        ImageData(IMG, LAB, NAMES).subset(chosen)


def test_image_data_subset_still_takes_masks_and_positions():
    data = ImageData(IMG, LAB, NAMES, ids=np.array([10, 11, 12, 13]))
    assert data.subset([3, 0]).ids.tolist() == [13, 10]
    assert data.subset(np.array([True, False, True, False])).ids.tolist() == [10, 12]
    assert data.subset(np.arange(4, dtype=np.uint8)).ids.tolist() == [10, 11, 12, 13]


def test_image_data_where_split_names_split():
    data = ImageData(IMG, LAB, NAMES, split=["train", "test", "test", "train"])
    with pytest.raises(TypeError, match=r"split must be a split name \(a string\), got NoneType"):
        data.where_split(None)
    with pytest.raises(ValueError, match=r"no instances with split 'val'; splits are \['test', 'train'\]"):
        data.where_split("val")
    data.split = np.array(["train", None, "test", "train"], dtype=object)  # set after construction: not checked
    with pytest.raises(ValueError, match=r"no instances with split 'val'; splits are \['None', 'test', 'train'\]"):
        data.where_split("val")


# ---------------------------------------------------------------------------------------------- thumbnails
def test_thumbnail_size_is_bounded_like_the_explorers():
    from difficulty_widget.widget.explorer import THUMB_SIZES

    assert MAX_THUMB_SIZE == THUMB_SIZES[1]
    for size in (MAX_THUMB_SIZE + 1, 100_000):
        with pytest.raises(ValueError, match=r"size must be a number of pixels in \[1, 512\], got"):
            thumbnails(IMG, [0], size=size)
        with pytest.raises(ValueError, match=r"size must be a number of pixels in \[1, 512\]"):
            ImageData(IMG, LAB, NAMES).thumbnails([0], size=size)
        with pytest.raises(ValueError, match=r"size must be a number of pixels in \[1, 512\]"):
            ImageSource(IMG, 4).thumbnails([0], size)
    assert len(thumbnails(IMG, [0], size=MAX_THUMB_SIZE)) == 1


@pytest.mark.parametrize(
    ("id_index", "message"),
    [
        (
            np.array([5, 6, 7, 8, 9, 10]),
            r"id_index must hold one integer id per image, shape \(4,\), got int64 of shape",
        ),
        (np.array([5, 6, 7]), r"shape \(4,\), got int64 of shape \(3,\)"),
        (np.array([[5, 6, 7, 8]]), r"got int64 of shape \(1, 4\)"),
        (np.array([5.0, 6, 7, 8]), r"id_index must hold one integer id per image, shape \(4,\), got float64"),
        (np.array([True, False, True, False]), r"got bool of shape \(4,\)"),
        (np.array([5, 5, 6, 7]), r"id_index must hold distinct ids; these appear more than once: \[5\]"),
    ],
)
def test_thumbnails_id_index_must_name_each_image_once(id_index, message):
    with pytest.raises(ValueError, match=message):
        thumbnails(IMG, [5], id_index=id_index)


# ---------------------------------------------------------------------------------------------- dict items
@pytest.mark.parametrize("label", [True, np.bool_(False), np.array([True])], ids=repr)
def test_dict_items_refuse_boolean_labels(label):
    from difficulty_widget.data import DictItems

    items = DictItems([{"image": np.zeros((4, 4), np.uint8), "label": label}])
    with pytest.raises(ValueError, match=r"item 0, key 'label': the label must be one integer class index, got"):
        items[0]


@pytest.mark.parametrize(
    "image",
    ["not an image", np.array([[None]], dtype=object), np.array([["a"]]), [[1, 2], [3]], np.zeros((2, 2), complex)],
    ids=["text", "objects", "strings", "ragged", "complex"],
)
def test_dict_items_name_the_item_and_key_of_a_bad_image(image):
    from difficulty_widget.data import DictItems

    items = DictItems([{"img": np.zeros((4, 4), np.uint8), "label": 0}, {"img": image, "label": 1}])
    assert items[0][1] == 0
    with pytest.raises(ValueError, match=r"item 1, key 'img': "):
        items[1]


def test_write_idx_to_a_folder_or_a_missing_folder_names_the_path(tmp_path):
    from difficulty_widget.data.idx import write_idx

    with pytest.raises(ValueError, match="is a folder"):
        write_idx(tmp_path, np.zeros((2, 2), dtype=np.uint8))
    with pytest.raises(ValueError, match="its folder does not exist"):
        write_idx(tmp_path / "missing" / "x.idx", np.zeros((2, 2), dtype=np.uint8))
