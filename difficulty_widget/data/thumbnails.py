"""Thumbnails: PNG bytes for the images a gallery page shows."""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from PIL import Image

from .._validation import check_images, check_positive_int, lookup_positions, to_numpy

#: The largest thumbnail side in pixels: the Explorer's largest ``thumb_size`` (``widget.explorer.THUMB_SIZES``).
#: A gallery never shows more; a size beyond it would encode pictures of billions of pixels.
MAX_THUMB_SIZE = 512


def thumbnails(
    images: np.ndarray, ids: Sequence[int], size: int = 64, id_index: np.ndarray | None = None
) -> dict[int, bytes]:
    """Encode the images with the given ids as PNG thumbnails.

    Parameters
    ----------
    images : uint8 (N, H, W) or (N, H, W, 3).
    ids : instance ids to encode; positions into ``images`` unless ``id_index`` maps ids to positions.
    size : the longer side of each thumbnail in pixels, 1 .. :data:`MAX_THUMB_SIZE`. Small images are enlarged
        with nearest-neighbour sampling (pixels stay crisp), large ones are reduced with a box filter.
    id_index : the id of each row of ``images`` (default: 0..N-1): one distinct integer per image.

    Returns
    -------
    dict mapping each requested id to its PNG bytes.
    """
    images = check_images(images)
    size = check_thumb_size(size)
    positions = _positions(ids, len(images), id_index)
    return {int(ident): encode_png(images[pos], size) for ident, pos in zip(ids, positions, strict=True)}


def check_thumb_size(size: object, name: str = "size") -> int:
    """``size`` as an int in 1 .. :data:`MAX_THUMB_SIZE`, or a ValueError naming ``name``."""
    size = check_positive_int(size, name)
    if size > MAX_THUMB_SIZE:
        raise ValueError(f"{name} must be a number of pixels in [1, {MAX_THUMB_SIZE}], got {size}")
    return size


def encode_png(image: np.ndarray, size: int) -> bytes:
    """One uint8 image as PNG bytes with its longer side ``size`` pixels (nearest-neighbour when enlarging)."""
    img = Image.fromarray(image)
    w, h = img.size
    scale = size / max(w, h)
    new = (max(1, round(w * scale)), max(1, round(h * scale)))
    if new != (w, h):
        img = img.resize(new, Image.Resampling.NEAREST if scale > 1 else Image.Resampling.BOX)
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def _positions(ids: Sequence[int], n: int, id_index: np.ndarray | None) -> np.ndarray:
    ids_arr = np.asarray(ids)
    if ids_arr.ndim != 1 or (ids_arr.size and not np.issubdtype(ids_arr.dtype, np.integer)):
        raise ValueError(f"ids must be a 1-D sequence of integer ids, got {ids_arr.dtype} of shape {ids_arr.shape}")
    if id_index is None:
        bad = ids_arr[(ids_arr < 0) | (ids_arr >= n)]
        if bad.size:
            raise ValueError(f"ids out of range [0, {n}): {bad[:10].tolist()}")
        return ids_arr.astype(np.int64)
    id_index = to_numpy(id_index)
    if id_index.shape != (n,) or id_index.dtype == bool or not np.issubdtype(id_index.dtype, np.integer):
        raise ValueError(
            f"id_index must hold one integer id per image, shape ({n},), got {id_index.dtype} of shape {id_index.shape}"
        )
    values, counts = np.unique(id_index, return_counts=True)
    if (counts > 1).any():
        raise ValueError(
            f"id_index must hold distinct ids; these appear more than once: {values[counts > 1][:10].tolist()}"
        )
    positions, unknown = lookup_positions(id_index, ids_arr)
    if unknown.any():
        raise ValueError(f"unknown ids: {ids_arr[unknown][:10].tolist()}")
    return positions
