"""Reader for the IDX format of MNIST and Fashion-MNIST (LeCun et al.), plain or gzip-compressed.

Every way a file can be wrong (not IDX, a ``.gz`` that is not gzip, a damaged or truncated gzip stream, a header cut
short, a size that does not match the header) raises one ``ValueError`` that names the file and what was expected.
Memory is bounded by the size the header declares and the file can hold: a damaged header never makes the reader
allocate more than the file could contain.
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20
_EXPECTED = "an IDX file (magic 00 00 <type> <ndim>, then one big-endian uint32 per dimension, then the values)"


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (``.gz`` or uncompressed) into a NumPy array of its declared shape.

    Raises ``FileNotFoundError`` when ``path`` does not exist and ``ValueError`` naming the file when it is a folder,
    a ``.gz`` that is not gzip-compressed, a damaged or truncated gzip stream, not a complete IDX file, or a path the
    system cannot open (a name too long, no permission to read it, an I/O error).
    """
    path = _as_path(path)
    try:
        return _read_file(path)
    except FileNotFoundError:
        raise
    except OSError as err:  # ENAMETOOLONG, EACCES, EIO, ...: the promise is FileNotFoundError or ValueError
        raise ValueError(f"path {path} cannot be read as an IDX file ({err.strerror or err})") from None


def _read_file(path: Path) -> np.ndarray:
    if not path.exists():
        raise FileNotFoundError(f"no such IDX file: {path}")
    if path.is_dir():
        raise ValueError(f"{path} is a folder; expected {_EXPECTED}")
    with open(path, "rb") as plain:
        compressed = plain.read(2) == _GZIP_MAGIC
    if path.suffix == ".gz" and not compressed:
        raise ValueError(f"{path} ends in .gz but is not gzip-compressed; expected {_EXPECTED}, compressed with gzip")
    try:
        with gzip.open(path, "rb") if compressed else open(path, "rb") as fh:
            return _read(fh, path, None if compressed else path.stat().st_size)
    except (EOFError, gzip.BadGzipFile, zlib.error) as err:
        raise ValueError(f"{path}: the gzip stream is damaged or truncated ({err}); expected {_EXPECTED}") from None


def _read(fh: BinaryIO, path: Path, size: int | None) -> np.ndarray:
    magic = _read_at_most(fh, 4)
    if len(magic) < 4 or magic[0] != 0 or magic[1] != 0 or magic[2] not in _IDX_DTYPES:
        raise ValueError(
            f"{path} is not an IDX file (bad magic number {magic.hex() or 'none: empty'}); expected {_EXPECTED}"
        )
    ndim = magic[3]
    dims = _read_at_most(fh, 4 * ndim)
    if len(dims) < 4 * ndim:
        raise ValueError(
            f"{path}: the IDX header is truncated: it declares {ndim} dimensions ({4 * ndim} bytes of sizes) but only "
            f"{len(dims)} bytes follow the magic number"
        )
    shape = tuple(int(d) for d in np.frombuffer(dims, dtype=">u4"))
    dtype = np.dtype(_IDX_DTYPES[magic[2]])
    expected = math.prod(shape) * dtype.itemsize
    header = 4 + 4 * ndim
    if size is not None and size - header != expected:
        raise ValueError(f"{path}: header declares shape {shape} ({expected} bytes) but {size - header} follow")
    body = _read_at_most(fh, expected + 1)
    if len(body) != expected:
        follows = f"{len(body)}" if len(body) <= expected else "more than that"
        raise ValueError(f"{path}: header declares shape {shape} ({expected} bytes) but {follows} follow")
    return np.frombuffer(body, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


def _read_at_most(fh: BinaryIO, n: int) -> bytes:
    """Up to ``n`` bytes, read in chunks (so a huge ``n`` from a damaged header allocates only what is there)."""
    parts, left = [], n
    while left > 0:
        part = fh.read(min(left, _CHUNK))
        if not part:
            break
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def _as_path(path: object) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    return Path(path).expanduser()


def write_idx(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write ``array`` as an IDX file (gzip when ``path`` ends in .gz); the inverse of :func:`read_idx`."""
    path = _as_path(path)
    codes = {np.dtype(v).newbyteorder("="): k for k, v in _IDX_DTYPES.items()}
    array = np.asarray(array)
    code = codes.get(array.dtype)
    if code is None:
        raise ValueError(f"array dtype {array.dtype} has no IDX type code; use one of {sorted(map(str, codes))}")
    if array.ndim > 255 or any(d >= 2**32 for d in array.shape):
        raise ValueError(f"array shape {array.shape} cannot be written as IDX (at most 255 dimensions below 2**32)")
    big_endian = array.astype(np.dtype(_IDX_DTYPES[code]), copy=False)
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    opener = gzip.open if path.suffix == ".gz" else open
    if path.is_dir():
        raise ValueError(f"path {str(path)!r} is a folder; give the IDX file's name")
    try:
        with opener(path, "wb") as fh:
            fh.write(header + big_endian.tobytes())
    except (FileNotFoundError, NotADirectoryError) as error:
        raise ValueError(f"path {str(path)!r}: its folder does not exist ({error.strerror})") from None
