"""Loaders given the wrong files (issue 18): one clear error naming the file and what was expected.

IDX files (MNIST, Fashion-MNIST): a ``.gz`` that is not gzip, a damaged or truncated gzip stream, an empty file, a
truncated header, a header that declares more (or less) than the file holds, a folder. CIFAR-10H: an ``.npz``, a text
file, a pickle of objects, a truncated ``.npy``, the wrong shape or dtype. The dataset loaders: bad arguments, and IDX
files whose contents are not images and labels.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from difficulty_widget.data import DATA_ENV, load_cifar10h, load_fashion_mnist, load_mnist, read_idx, write_idx


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
}


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
