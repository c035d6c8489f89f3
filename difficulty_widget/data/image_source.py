"""Images for a gallery: one interface over arrays, ImageData, torch datasets and lists of file paths.

An :class:`ImageSource` answers "PNG thumbnails for these rows" and caches what it encoded, so that a
gallery page costs one encode per image however often it is shown.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from .._validation import check_images, check_positive_int, lookup_positions
from .images import ImageData
from .thumbnails import encode_png


class ImageSource:
    """Row-aligned images: row ``i`` of the table shows image ``i`` of the source.

    ``images`` may be a uint8 array (N, H, W[, 3]), an :class:`ImageData` (matched to the table by id when
    ``ids`` are given), a map-style torch dataset whose items are ``(image, label)`` with a float tensor
    C x H x W in [0, 1] or a PIL image, or a list of image file paths.
    """

    def __init__(self, images: Any, n_rows: int, ids: np.ndarray | None = None, cache_size: int = 20000) -> None:
        self._positions: np.ndarray | None = None
        if isinstance(images, ImageData):
            if ids is not None:
                self._positions = _lookup(images.ids, np.asarray(ids))
            elif len(images) != n_rows:
                raise ValueError(f"images has {len(images)} images but the table has {n_rows} rows")
            self._kind, self._images = "array", images.images
        elif isinstance(images, np.ndarray):
            self._kind, self._images = "array", check_images(np.asarray(images))
        elif isinstance(images, (list, tuple)) and all(isinstance(p, (str, Path)) for p in images):
            self._kind, self._images = "paths", [Path(p) for p in images]
        elif hasattr(images, "__getitem__") and hasattr(images, "__len__"):
            self._kind, self._images = "dataset", images
        else:
            raise ValueError(
                "images must be a uint8 array (N, H, W[, 3]), an ImageData, a torch Dataset or a list of file paths; "
                f"got {type(images).__name__}"
            )
        if self._positions is None and len(self._images) != n_rows:
            raise ValueError(f"images has {len(self._images)} entries but the table has {n_rows} rows")
        self._cache: OrderedDict[tuple[int, int], bytes] = OrderedDict()
        self._cache_size = cache_size

    def thumbnails(self, rows: Sequence[int], size: int) -> list[bytes]:
        """PNG bytes for each table row in ``rows``, longest side ``size`` pixels."""
        size = check_positive_int(size, "size")
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
        if self._kind == "array":
            return self._images[index]
        if self._kind == "paths":
            with Image.open(self._images[index]) as img:
                return np.asarray(img.convert("RGB") if img.mode not in ("L", "RGB") else img)
        item = self._images[index]
        return to_uint8_image(item[0] if isinstance(item, (tuple, list)) else item)


def to_uint8_image(image: Any) -> np.ndarray:
    """A PIL image, or a float tensor/array C x H x W in [0, 1], as uint8 (H, W) or (H, W, 3)."""
    if isinstance(image, Image.Image):
        return np.asarray(image.convert("RGB") if image.mode not in ("L", "RGB") else image)
    if hasattr(image, "detach"):
        image = image.detach().cpu().numpy()
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        arr = np.clip(np.rint(arr.astype(np.float64) * 255.0), 0, 255).astype(np.uint8)
    if arr.ndim == 3 and arr.shape[0] in (1, 3) and arr.shape[-1] not in (1, 3):
        arr = np.moveaxis(arr, 0, -1)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3):
        raise ValueError(f"an image must be 2-D (H, W) or 3-D (C, H, W) / (H, W, 3), got shape {arr.shape}")
    return arr


def _lookup(source_ids: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    positions, unknown = lookup_positions(source_ids, wanted)
    missing = wanted[unknown]
    if missing.size:
        raise ValueError(f"images has no image for ids {missing[:10].tolist()}")
    return positions
