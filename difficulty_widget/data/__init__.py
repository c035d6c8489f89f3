"""Datasets and images: loaders, the in-memory ImageData, IDX files, thumbnails, human labels (CIFAR-10H), and a
user's own torch datasets (class names, labels and Normalize found through their wrappers; dict items as pairs)."""

from .cifar10h import CIFAR10_CLASSES, AnnotationCounts, HumanLabels, counts_from_annotations, load_cifar10h
from .idx import read_idx, write_idx
from .images import ImageData
from .loaders import DATA_ENV, DatasetNotFoundError, load_digits, load_fashion_mnist, load_mnist
from .thumbnails import thumbnails

__all__ = [
    "CIFAR10_CLASSES",
    "DATA_ENV",
    "AnnotationCounts",
    "DatasetNotFoundError",
    "DictItems",
    "HumanLabels",
    "ImageData",
    "as_pairs",
    "class_names_of",
    "counts_from_annotations",
    "find_normalize",
    "load_cifar10h",
    "load_digits",
    "load_fashion_mnist",
    "load_mnist",
    "read_idx",
    "targets_of",
    "thumbnails",
    "unwrap",
    "write_idx",
]

#: Names of :mod:`difficulty_widget.data.datasets`, imported on first use (it imports torch; the rest does not).
_DATASETS = ("DictItems", "as_pairs", "class_names_of", "find_normalize", "targets_of", "unwrap")


def __getattr__(name: str):
    if name in _DATASETS:
        from . import datasets

        return getattr(datasets, name)
    raise AttributeError(f"module 'difficulty_widget.data' has no attribute {name!r}")
