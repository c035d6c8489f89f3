"""Datasets and images: loaders, the in-memory ImageData, IDX files and thumbnails."""

from .idx import read_idx, write_idx
from .images import ImageData
from .loaders import DATA_ENV, DatasetNotFoundError, load_digits, load_fashion_mnist, load_mnist
from .thumbnails import thumbnails

__all__ = [
    "DATA_ENV",
    "DatasetNotFoundError",
    "ImageData",
    "load_digits",
    "load_fashion_mnist",
    "load_mnist",
    "read_idx",
    "thumbnails",
    "write_idx",
]
