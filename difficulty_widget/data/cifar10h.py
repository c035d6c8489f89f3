"""Human labels: CIFAR-10H and long tables of annotations turned into label-count matrices.

CIFAR-10H (Peterson, Battleday, Griffiths, Russakovsky, "Human uncertainty makes classification more robust",
ICCV 2019; github.com/jcpeterson/cifar-10h, CC BY-NC-SA 4.0) holds, for each of the 10000 CIFAR-10 test images
in the original test-set order, how many of its 47 to 63 annotators chose each of the 10 classes
(``cifar10h-counts.npy``), and the same counts normalised per row (``cifar10h-probs.npy``).

- :func:`load_cifar10h` reads either file and, when CIFAR-10 itself is available through torchvision, pairs the
  counts with the test images and their labels;
- :func:`counts_from_annotations` turns a long table (one row per annotator and instance) into a count matrix
  and a per-instance median reaction time.

The result feeds :func:`difficulty_widget.measures.human.human_scores` (input name ``human_counts``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from .._validation import check_bool, check_labels
from .images import ImageData
from .loaders import DATA_ENV, DatasetNotFoundError

CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
CIFAR10H_FILES = ("cifar10h-counts.npy", "cifar10h-probs.npy")  # preferred first
CIFAR10H_URL = "https://github.com/jcpeterson/cifar-10h"


@dataclass
class HumanLabels:
    """Human label distributions for a dataset, optionally with its images.

    Attributes
    ----------
    counts : (N, C) int64 label counts, or float64 probabilities (rows sum to 1) when only those were available.
    class_names : one name per class (column).
    is_probabilities : True when ``counts`` holds probabilities rather than counts.
    path : the file the labels were read from.
    images : the images with their given labels (CIFAR-10 test set), or None when they were not loaded.
    """

    counts: np.ndarray
    class_names: list[str]
    is_probabilities: bool
    path: Path
    images: ImageData | None = None

    def __len__(self) -> int:
        return len(self.counts)

    def __repr__(self) -> str:
        kind = "probabilities" if self.is_probabilities else "counts"
        images = "no images" if self.images is None else f"images {self.images.images.shape[1:]}"
        return f"HumanLabels(n={len(self)}, classes={len(self.class_names)}, {kind}, {images}, path={str(self.path)!r})"

    @property
    def labels(self) -> np.ndarray | None:
        """The given (dataset) labels when the images were loaded, else None."""
        return None if self.images is None else self.images.labels


def load_cifar10h(
    path: str | os.PathLike, *, cifar10_root: str | os.PathLike | None = None, download: bool = False
) -> HumanLabels:
    """Load CIFAR-10H human label counts (Peterson et al., ICCV 2019), optionally with the CIFAR-10 test images.

    Parameters
    ----------
    path : a folder holding ``cifar10h-counts.npy`` (preferred) or ``cifar10h-probs.npy``, or the path of one of
        these files. Get them from github.com/jcpeterson/cifar-10h (folder ``data/``).
    cifar10_root : a torchvision CIFAR-10 root (the folder that holds ``cifar-10-batches-py/``). When given, the
        10000 test images and their labels are loaded through ``torchvision.datasets.CIFAR10`` and paired with
        the counts (same order: CIFAR-10H follows the original test-set order).
    download : download CIFAR-10 through torchvision when it is not found (needs internet), into
        ``cifar10_root`` or else ``$DIFFICULTY_WIDGET_DATA`` or ``~/.cache/difficulty_widget``.

    Returns
    -------
    HumanLabels with ``counts`` (10000 x 10, int64 counts, or float64 probabilities when only the probabilities
    file was found), ``class_names`` airplane .. truck, and ``images`` (an ImageData) or None when neither
    ``cifar10_root`` nor ``download`` was given.

    Raises
    ------
    DatasetNotFoundError : when neither file is found, or CIFAR-10 was asked for and is not available.
    ValueError : when the file does not hold a valid (N, 10) count or probability matrix.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    if not isinstance(download, (bool, np.bool_)):
        raise ValueError(f"download must be True or False, got {download!r}")
    if cifar10_root is not None and not isinstance(cifar10_root, (str, os.PathLike)):
        raise TypeError(
            f"cifar10_root must be a folder path (str or os.PathLike) or None, got {type(cifar10_root).__name__}"
        )
    file = _find_cifar10h_file(Path(path).expanduser())
    counts, is_probabilities = _check_cifar10h_array(_read_npy(file), file)
    images = None
    if cifar10_root is not None or download:
        images = _load_cifar10_test(cifar10_root, download)
        if len(images) != len(counts):
            raise ValueError(f"{file} has {len(counts)} rows but the CIFAR-10 test set has {len(images)} images")
    return HumanLabels(
        counts=counts, class_names=list(CIFAR10_CLASSES), is_probabilities=is_probabilities, path=file, images=images
    )


def _find_cifar10h_file(path: Path) -> Path:
    try:
        if path.is_file():
            return path
        if path.is_dir():
            for name in CIFAR10H_FILES:
                if (path / name).is_file():
                    return path / name
    except OSError as err:  # a name too long, an I/O error
        raise ValueError(f"path: cannot use {path} ({err.strerror or err})") from None
    raise DatasetNotFoundError(
        f"CIFAR-10H not found: {path} is neither one of {', '.join(CIFAR10H_FILES)} nor a folder holding one.\n"
        f"To get it: download {CIFAR10H_FILES[0]} from {CIFAR10H_URL} (folder data/) and pass its folder or path."
    )


_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK\x03\x04"


def _read_npy(file: Path) -> np.ndarray:
    """The array in a ``.npy`` file, or a ValueError naming the file when it is anything else (an ``.npz`` archive,
    text, a pickle, a damaged or truncated ``.npy``). The header's shape is checked against the file's size before
    anything is read, so a damaged header never allocates more than the file holds."""
    expected = (
        f"expected a NumPy .npy file holding an (n_images, {len(CIFAR10_CLASSES)}) matrix, such as {CIFAR10H_FILES[0]}"
    )
    try:
        with open(file, "rb") as fh:
            head = fh.read(8)
    except OSError as err:  # no permission to read it, an I/O error
        raise ValueError(f"cannot read {file} ({err.strerror or err}); {expected}") from None
    if head.startswith(_ZIP_MAGIC):
        raise ValueError(f"{file} is a .npz archive (several arrays); {expected} (np.save, not np.savez)")
    if not head.startswith(_NPY_MAGIC):
        raise ValueError(f"{file} is not a NumPy .npy file (it starts with {head!r}); {expected}")
    try:
        mapped = np.load(file, mmap_mode="r", allow_pickle=False)
        return np.array(mapped)
    except ValueError as err:
        if "object" in str(err).lower() or "pickle" in str(err).lower():
            raise ValueError(f"{file} holds Python objects (dtype object), not numbers; {expected}") from None
        raise ValueError(f"{file} is a damaged or truncated .npy file ({err}); {expected}") from None
    except Exception as err:  # a damaged header fails in NumPy's parser in many ways (TokenError, SyntaxError, ...)
        if isinstance(err, MemoryError):
            raise
        problem = f"{type(err).__name__}: {err}"
        raise ValueError(f"{file} is a damaged or truncated .npy file ({problem}); {expected}") from None


def _check_cifar10h_array(raw: np.ndarray, file: Path) -> tuple[np.ndarray, bool]:
    n_classes = len(CIFAR10_CLASSES)
    if raw.ndim != 2 or raw.shape[1] != n_classes or raw.shape[0] == 0:
        raise ValueError(f"{file} must hold an (n_images, {n_classes}) matrix, got shape {raw.shape}")
    if np.issubdtype(raw.dtype, np.integer):
        if raw.min() < 0:
            raise ValueError(f"{file} contains negative values")
        if raw.max() > MAX_COUNT:
            raise ValueError(_too_large(file, raw.max()))
        counts, is_probabilities = raw.astype(np.int64), False
    elif np.issubdtype(raw.dtype, np.floating):
        counts = raw.astype(np.float64)
        if not np.isfinite(counts).all():
            raise ValueError(f"{file} contains NaN or infinite values")
        if (counts < 0).any():
            raise ValueError(f"{file} contains negative values")
        is_probabilities = not np.array_equal(counts, np.round(counts))
        if not is_probabilities:
            if counts.max() > MAX_COUNT:
                raise ValueError(_too_large(file, counts.max()))
            counts = counts.astype(np.int64)
    else:
        raise ValueError(f"{file} must hold numbers, got dtype {raw.dtype}")
    if is_probabilities and not np.allclose(counts.sum(axis=1), 1.0, rtol=0.0, atol=1e-6):
        raise ValueError(f"{file} holds fractions whose rows do not all sum to 1; expected counts or probabilities")
    return counts, is_probabilities


#: The largest label count accepted: annotators per image (CIFAR-10H has 47 to 63); far beyond any real count, and
#: below 2**53, where whole-number floats stop being exact and before int64 (where a cast would wrap) overflows.
MAX_COUNT = 2**31 - 1


def _too_large(file: Path, value: Any) -> str:
    return (
        f"{file} holds a count of {value:.6g}, beyond {MAX_COUNT} (2**31 - 1): expected how many annotators chose "
        "each class (CIFAR-10H: 47 to 63 per image) or probabilities"
    )


def _load_cifar10_test(root: str | os.PathLike | None, download: bool) -> ImageData:
    """The 10000 CIFAR-10 test images and labels through torchvision (integrity-checked by torchvision)."""
    import torchvision.datasets

    base = (
        Path(root) if root is not None else Path(os.environ.get(DATA_ENV, Path.home() / ".cache" / "difficulty_widget"))
    )
    try:
        dataset = torchvision.datasets.CIFAR10(str(base), train=False, download=download)
    except RuntimeError as err:  # torchvision: "Dataset not found or corrupted"
        raise DatasetNotFoundError(
            f"CIFAR-10 (test) not found in {base / 'cifar-10-batches-py'}: {err}\n"
            "To get it: pass download=True when online, or point cifar10_root= at a torchvision CIFAR-10 root."
        ) from err
    except Exception as err:  # network errors come in many types; report them as one
        raise DatasetNotFoundError(f"downloading CIFAR-10 into {base} failed: {err}") from err
    if list(dataset.classes) != CIFAR10_CLASSES:
        raise ValueError(f"unexpected CIFAR-10 class order {dataset.classes}; expected {CIFAR10_CLASSES}")
    return ImageData(
        images=np.asarray(dataset.data, dtype=np.uint8),
        labels=np.asarray(dataset.targets, dtype=np.int64),
        class_names=list(CIFAR10_CLASSES),
        name="cifar10-test",
    )


class AnnotationCounts(NamedTuple):
    """A label-count matrix built from a long table of annotations."""

    counts: np.ndarray
    """(N, C) int64: how many annotation rows chose class c for instance n."""
    median_reaction_time: np.ndarray | None
    """(N,) float64 median reaction time per instance (NaN without any), or None without that column."""


def counts_from_annotations(
    table: pd.DataFrame,
    *,
    n_instances: int | None = None,
    n_classes: int | None = None,
    allow_repeats: bool = False,
) -> AnnotationCounts:
    """Label counts per instance from a long table of annotations, one row per (annotator, instance) label.

    Parameters
    ----------
    table : pandas DataFrame with integer columns ``annotator``, ``instance`` (row index of the instance, >= 0)
        and ``label`` (class index, >= 0), and optionally a numeric ``reaction_time``. For the CIFAR-10H raw file
        (``cifar10h-raw.csv``), drop the attention checks (``is_attn_check == 1``) and rename ``annotator_id`` ->
        ``annotator``, ``cifar10_test_test_idx`` -> ``instance``, ``chosen_label`` -> ``label``.
    n_instances, n_classes : sizes of the result (default: one more than the largest instance / label), at most
        2**28 cells together (:data:`MAX_CELLS`). Instances without any annotation get an all-zero row, which the
        human scores reject: subset them away first.
    allow_repeats : True or False: count every row even when an annotator labelled the same instance more than
        once (by default such repeats are an error, since they usually mean unfiltered attention checks).

    Returns
    -------
    AnnotationCounts(counts, median_reaction_time): counts[n, c] = number of rows with instance n and label c
    (the matrix H of Peterson et al., ICCV 2019), and the median of ``reaction_time`` over each instance's rows
    (NaN values ignored; None when the table has no ``reaction_time`` column).
    """
    if not isinstance(table, pd.DataFrame):
        raise ValueError(f"table must be a pandas DataFrame, got {type(table).__name__}")
    missing = [c for c in ("annotator", "instance", "label") if c not in table.columns]
    if missing:
        raise ValueError(f"table lacks column(s) {missing}; it has {list(table.columns)}")
    if len(table) == 0:
        raise ValueError("table is empty: expected at least one annotation")
    allow_repeats = check_bool(allow_repeats, "allow_repeats")
    if table["annotator"].isna().any():
        raise ValueError(f"table['annotator'] has {int(table['annotator'].isna().sum())} missing value(s)")
    instance = check_labels(table["instance"].to_numpy(), name="table['instance']")
    label = check_labels(table["label"].to_numpy(), name="table['label']")
    n = _size(n_instances, int(instance.max()) + 1, "n_instances", "table['instance']")
    c = _size(n_classes, int(label.max()) + 1, "n_classes", "table['label']")
    if n * c > MAX_CELLS:  # the count table is N x C int64 (and instance * c + label must not overflow)
        raise ValueError(_too_many_cells(n, c, n_instances, n_classes))
    times = _reaction_times(table) if "reaction_time" in table.columns else None
    if not allow_repeats:
        repeated = table.duplicated(subset=["annotator", "instance"])
        if repeated.any():
            first = table.loc[repeated, ["annotator", "instance"]].iloc[0].tolist()
            raise ValueError(
                f"table has {int(repeated.sum())} repeated (annotator, instance) pair(s), e.g. {first}; "
                "drop them (e.g. attention checks) or pass allow_repeats=True to count every row"
            )
    counts = np.bincount(instance * c + label, minlength=n * c).reshape(n, c).astype(np.int64, copy=False)
    median = None
    if times is not None:
        grouped = pd.Series(times).groupby(instance).median()
        median = grouped.reindex(np.arange(n)).to_numpy(dtype=np.float64)
    return AnnotationCounts(counts=counts, median_reaction_time=median)


#: The most cells the count table may have (2**28 int64: 2 GiB), as for the tables of label-issue summaries.
MAX_CELLS = 2**28


def _too_many_cells(n: int, c: int, n_instances: Any, n_classes: Any) -> str:
    rows = "n_instances" if n_instances is not None else "the largest table['instance'] + 1"
    columns = "n_classes" if n_classes is not None else "the largest table['label'] + 1"
    return (
        f"the count table would have {n} rows ({rows}) x {c} columns ({columns}) = {n * c} cells, more than "
        f"{MAX_CELLS} (2**28, 2 GiB); instances and labels are row and class indices 0 .. n-1: renumber them "
        "(e.g. with pandas.factorize) or pass the true n_instances / n_classes"
    )


def _reaction_times(table: pd.DataFrame) -> np.ndarray:
    """``table['reaction_time']`` as float64 seconds (NaN where missing), or a ValueError when it holds anything but
    real numbers: booleans, datetimes, durations, text or complex numbers have no median in seconds."""
    column = table["reaction_time"]
    kind = getattr(column.dtype, "kind", "O")
    if kind == "O":
        present = column[column.notna()]
        odd = [v for v in present if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.number))]
        odd += [v for v in present if isinstance(v, (complex, np.complexfloating))]
        if not odd:
            return np.array([np.nan if pd.isna(v) else float(v) for v in column], dtype=np.float64)
        what = f"values such as {odd[0]!r:.40} ({type(odd[0]).__name__})"
    elif kind in "iuf":
        return column.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        what = f"dtype {column.dtype}"
    raise ValueError(
        f"table['reaction_time'] must be numeric (seconds or milliseconds, NaN where missing), got {what}; "
        "convert durations or timestamps to numbers first"
    )


def _size(given: Any, needed: int, name: str, column: str) -> int:
    if given is None:
        return needed
    if isinstance(given, bool) or not isinstance(given, (int, np.integer)) or given < 1:
        raise ValueError(f"{name} must be a positive integer, got {given!r}")
    if given < needed:
        raise ValueError(f"{name} is {given} but {column} goes up to {needed - 1}")
    return int(given)
