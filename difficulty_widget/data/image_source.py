"""Images for a gallery: one interface over arrays, ImageData, torch datasets, lists of file paths and tuples of them.

An :class:`ImageSource` answers "PNG thumbnails for these rows" and caches what it encoded, so that a
gallery page costs one encode per image however often it is shown. Images a model reads are often normalised
(``transforms.Normalize`` in the dataset's transform): the source undoes that before drawing, so the thumbnails
show the colours of the raw images.
"""

from __future__ import annotations

import sys
import warnings
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from .._validation import check_images, lookup_positions, to_numpy
from .images import ImageData
from .thumbnails import check_thumb_size, encode_png

Stats = tuple[np.ndarray, np.ndarray]
_RANGE_TOLERANCE = 1e-3  # float pixels this far outside [0, 1] count as out of range


class ImageSource:
    """Row-aligned images: row ``i`` of the table shows image ``i`` of the source.

    ``images`` may be a uint8 array (N, H, W[, 3]), an :class:`ImageData` (matched to the table by id when
    ``ids`` are given), a map-style torch dataset (also behind ``DataLoader`` / ``Subset`` / ``ConcatDataset``)
    whose items are ``(image, label)`` pairs, dicts with an image (see :class:`~difficulty_widget.data.DictItems`)
    or images, each a float tensor C x H x W or a PIL image, a list of image file paths, or a tuple or list of
    any of these, whose rows follow one another (``(train, test)``: the row order of ``analyze(model, train,
    test)``).

    ``display``: images to draw instead of ``images`` (same kinds), e.g. the raw images of a normalised dataset.
    ``split_counts``: rows per split of the table, for a hint when the counts do not match.

    A ``transforms.Normalize`` found in a dataset's transform (:func:`~difficulty_widget.data.find_normalize`) is
    undone before drawing. Float pixels outside [0, 1] with no Normalize found are min-max scaled per image, with
    one warning.
    """

    def __init__(
        self,
        images: Any,
        n_rows: int,
        ids: np.ndarray | None = None,
        cache_size: int = 20000,
        *,
        display: Any = None,
        split_counts: Mapping[str, int] | None = None,
    ) -> None:
        name, source = ("display", display) if display is not None else ("images", images)
        self._positions: np.ndarray | None = None
        if isinstance(source, ImageData) and ids is not None:
            self._positions = _lookup(source.ids, np.asarray(ids))
            self._parts: list[_Part] = [_ArrayPart(source.images)]
        else:
            self._parts = _parts_of(source, name)
        counts = [len(p) for p in self._parts]
        if self._positions is None and sum(counts) != n_rows:
            raise ValueError(_count_message(name, counts, n_rows, split_counts))
        self._starts = np.cumsum([0, *counts])[:-1]
        self._name = name
        self._warned = False
        self._cache: OrderedDict[tuple[int, int], bytes] = OrderedDict()
        self._cache_size = cache_size

    def thumbnails(self, rows: Sequence[int], size: int) -> list[bytes]:
        """PNG bytes for each table row in ``rows``, longest side ``size`` pixels."""
        size = check_thumb_size(size)
        out = []
        for row in rows:
            key = (int(row), size)
            png = self._cache.get(key)
            if png is None:
                png = encode_png(self._pixels(int(row)), size)
                self._cache[key] = png
                if len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
            else:
                self._cache.move_to_end(key)
            out.append(png)
        return out

    def _pixels(self, row: int) -> np.ndarray:
        index = row if self._positions is None else int(self._positions[row])
        which = int(np.searchsorted(self._starts, index, side="right")) - 1
        part = self._parts[which]
        image = part.image(index - int(self._starts[which]))
        if isinstance(image, Image.Image):
            return to_uint8_image(image)
        arr = to_numpy(image)
        floating = np.issubdtype(arr.dtype, np.floating)
        if not floating and (arr.dtype == bool or _in_byte_range(arr)):
            return to_uint8_image(arr)
        if floating and part.normalize is not None:
            return to_uint8_image(arr, normalize=part.normalize)
        lo, hi = float(np.nanmin(arr)), float(np.nanmax(arr))
        if floating and lo >= -_RANGE_TOLERANCE and hi <= 1 + _RANGE_TOLERANCE:
            return to_uint8_image(arr)
        if not self._warned:
            self._warned = True
            expected = "[0, 1]" if floating else "0..255"
            warnings.warn(
                f"{self._name}: pixel values of row {row} span [{lo:.3g}, {hi:.3g}], outside {expected}, and no "
                "transforms.Normalize was found in the dataset's transform; the thumbnails are min-max scaled per "
                "image, so their colours and contrast are not the true ones. Pass display= with the raw images "
                "(e.g. the same dataset without its Normalize), or put a torchvision transforms.Normalize in the "
                "dataset's transform (inside Compose) where it can be found and undone.",
                UserWarning,
                stacklevel=3,
            )
        arr = arr.astype(np.float64)
        return to_uint8_image((arr - lo) / (hi - lo) if hi > lo else np.clip(arr, 0, 1))


def to_uint8_image(image: Any, normalize: Stats | None = None) -> np.ndarray:
    """A PIL image, an integer array, or a float tensor/array C x H x W (or H x W[, C]) in [0, 1], as uint8 (H, W)
    or (H, W, 3).

    ``normalize``: the ``(mean, std)`` of a ``transforms.Normalize`` applied to a C x H x W float image, undone
    first (``x * std + mean`` per channel). Float values are then clipped to [0, 1]; integer values in 0..255
    are kept as they are.
    """
    if isinstance(image, Image.Image):
        return np.asarray(image.convert("RGB") if image.mode not in ("L", "RGB") else image)
    arr = to_numpy(image)
    if normalize is not None and np.issubdtype(arr.dtype, np.floating):
        arr = _unnormalize(arr, *normalize)
    if arr.dtype == bool:
        arr = arr.astype(np.uint8) * 255
    elif arr.dtype != np.uint8 and _in_byte_range(arr):
        arr = arr.astype(np.uint8)
    if arr.dtype != np.uint8:
        arr = np.clip(np.rint(arr.astype(np.float64) * 255.0), 0, 255).astype(np.uint8)
    if arr.ndim == 3 and arr.shape[0] in (1, 3) and arr.shape[-1] not in (1, 3):
        arr = np.moveaxis(arr, 0, -1)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3):
        raise ValueError(f"an image must be 2-D (H, W) or 3-D (C, H, W) / (H, W, 3), got shape {arr.shape}")
    return arr


# ---------------------------------------------------------------------------------------------------- parts
class _Part:
    """Consecutive rows of the source: ``len`` images, each drawn with ``image(i)`` (raw, before uint8)."""

    normalize: Stats | None = None

    def __len__(self) -> int:
        raise NotImplementedError

    def image(self, index: int) -> Any:
        raise NotImplementedError


class _ArrayPart(_Part):
    def __init__(self, images: np.ndarray) -> None:
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def image(self, index: int) -> Any:
        return self.images[index]


class _PathPart(_Part):
    def __init__(self, paths: Sequence[str | Path]) -> None:
        self.paths = [Path(p) for p in paths]

    def __len__(self) -> int:
        return len(self.paths)

    def image(self, index: int) -> Any:
        with Image.open(self.paths[index]) as img:
            return np.asarray(img.convert("RGB") if img.mode not in ("L", "RGB") else img)


class _ItemPart(_Part):
    """Rows ``positions`` (all when None) of a map-style dataset whose items are images, (image, ...) pairs or
    dicts holding the image under ``key``."""

    def __init__(self, dataset: Any, positions: np.ndarray | None, normalize: Stats | None, key: str | None) -> None:
        self.dataset, self.positions, self.normalize, self.key = dataset, positions, normalize, key

    def __len__(self) -> int:
        return len(self.dataset) if self.positions is None else len(self.positions)

    def image(self, index: int) -> Any:
        item = self.dataset[index if self.positions is None else int(self.positions[index])]
        if self.key is not None:
            return item[self.key]
        return item[0] if isinstance(item, (tuple, list)) else item


def _parts_of(source: Any, name: str) -> list[_Part]:
    """The parts of one ``images=`` / ``display=`` argument, in row order."""
    if isinstance(source, ImageData):
        return [_ArrayPart(source.images)]
    if isinstance(source, np.ndarray):
        return [_ArrayPart(check_images(source, name))]
    if isinstance(source, (list, tuple)) and source and all(isinstance(p, (str, Path)) for p in source):
        return [_PathPart(source)]
    if isinstance(source, (list, tuple)) and source and all(_is_collection(p) for p in source):
        return [part for p in source for part in _parts_of(p, name)]
    if _is_dataset(source):
        return _dataset_parts(source)
    raise ValueError(
        f"{name} must be a uint8 array (N, H, W[, 3]), an ImageData, a torch Dataset or DataLoader, a list of file "
        f"paths, or a tuple of these (one per split, in the table's row order); got {type(source).__name__}"
    )


def _dataset_parts(dataset: Any) -> list[_Part]:
    if isinstance(dataset, (list, tuple)) or "torch" not in sys.modules:
        # a list of images or items, or no torch object (nor torchvision transform) at all: nothing to unwrap
        return [_ItemPart(dataset, None, None, _image_key(dataset))]
    from .datasets import find_normalize, unwrap

    parts: list[_Part] = []
    found: dict[int, tuple[Stats | None, str | None]] = {}  # a Subset of a ConcatDataset has many runs per dataset
    for leaf, positions in unwrap(dataset):
        if id(leaf) not in found:
            found[id(leaf)] = (find_normalize(leaf), _image_key(leaf))
        parts.append(_ItemPart(leaf, positions, *found[id(leaf)]))
    return parts


def _image_key(dataset: Any) -> str | None:
    """The key of the image in the dataset's items when they are dicts (read from its first item), else None."""
    first = dataset[0] if len(dataset) else None
    if not isinstance(first, Mapping):
        return None
    from .datasets import IMAGE_KEYS, pick_key

    return pick_key(first, IMAGE_KEYS, "image_key")


def _is_collection(value: Any) -> bool:
    """Whether one element of a tuple/list of ``images`` is itself a set of images (not a single image)."""
    if isinstance(value, ImageData):
        return True
    if isinstance(value, np.ndarray):  # a uint8 stack (N, H, W[, 3]), not one image (H, W, C) or (C, H, W)
        stack = value.ndim == 4 or (
            value.ndim == 3 and value.shape[-1] not in (1, 3, 4) and value.shape[0] not in (1, 3)
        )
        return value.dtype == np.uint8 and stack
    if isinstance(value, (str, bytes, Path, Mapping, list, tuple, Image.Image)) or hasattr(value, "detach"):
        return False  # a path, a dict item, an (image, label) pair, a PIL image or a tensor
    return _is_dataset(value)


def _is_dataset(value: Any) -> bool:
    """A map-style dataset (``__getitem__`` and ``__len__``) or a DataLoader (its ``.dataset`` is drawn)."""
    return (hasattr(value, "__getitem__") and hasattr(value, "__len__")) or (
        hasattr(value, "dataset") and hasattr(value, "__iter__")
    )


def _in_byte_range(arr: np.ndarray) -> bool:
    """Whether an integer array's values all lie in 0..255 (drawn as they are)."""
    return bool(np.issubdtype(arr.dtype, np.integer) and arr.size and 0 <= arr.min() and arr.max() <= 255)


def _count_message(name: str, counts: list[int], n_rows: int, split_counts: Mapping[str, int] | None) -> str:
    total = sum(counts)
    parts = f" ({' + '.join(str(c) for c in counts)})" if len(counts) > 1 else ""
    message = f"{name} has {total} entries{parts} but the table has {n_rows} rows"
    splits = {str(k): int(v) for k, v in (split_counts or {}).items()}
    if {"train", "test"} <= set(splits) and total in (splits["train"], splits["test"]):
        message += (
            f" ({splits['train']} train rows, then {splits['test']} test rows, as analyze(model, train, test) "
            f"orders them): pass {name}=(train, test), both datasets in that order"
        )
    return message


def _unnormalize(image: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """``image * std + mean`` per channel of a C x H x W image (the inverse of ``transforms.Normalize``)."""
    if image.ndim != 3 or (len(mean) not in (1, image.shape[0])) or (len(std) not in (1, image.shape[0])):
        raise ValueError(
            f"a Normalize with mean {mean.tolist()} and std {std.tolist()} cannot be undone on an image of shape "
            f"{image.shape} (expected C x H x W with one mean and std per channel)"
        )
    return image.astype(np.float64) * std[:, None, None] + mean[:, None, None]


def _lookup(source_ids: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    positions, unknown = lookup_positions(source_ids, wanted)
    missing = wanted[unknown]
    if missing.size:
        raise ValueError(f"images has no image for ids {missing[:10].tolist()}")
    return positions
