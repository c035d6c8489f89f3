"""In-memory image datasets: uint8 images, integer labels, class names, and a torch view of them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._validation import check_images, check_labels, check_names, to_numpy


@dataclass
class ImageData:
    """Images with labels: what every loader returns and what ``extract`` and the widget accept.

    Attributes
    ----------
    images : uint8 array (N, H, W) for grey or (N, H, W, 3) for colour images.
    labels : int64 array (N,) of class indices.
    class_names : one name per class index.
    name : the dataset's name, kept in provenance.
    split : optional array (N,) of split names per instance (for example "train" / "test").
    wnids : optional WordNet ids per class (ImageNet-style ``nXXXXXXXX``).
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: list[str]
    name: str = "images"
    split: np.ndarray | None = None
    wnids: list[str] | None = None
    ids: np.ndarray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        self.images = check_images(self.images)
        self.class_names = [str(c) for c in check_names(self.class_names, "class_names")]  # np.str_ -> str
        _refuse_repeats(self.class_names, "class_names")
        self.labels = check_labels(self.labels, n=len(self.images), n_classes=len(self.class_names))
        n = len(self.images)
        if self.ids is None:
            self.ids = np.arange(n, dtype=np.int64)
        else:
            self.ids = check_labels(self.ids, n=n, name="ids")
            if len(np.unique(self.ids)) != n:
                raise ValueError("ids must be unique, one per image")
        if self.split is not None:
            if isinstance(self.split, (str, bytes)):
                raise TypeError(f"split must hold one split name per image, got the single {self.split!r:.60}")
            self.split = np.asarray(self.split, dtype=object)
            if self.split.shape != (n,):
                raise ValueError(f"split must have shape ({n},), got {self.split.shape}")
            not_names = [i for i, s in enumerate(self.split) if not isinstance(s, str)]
            if not_names:
                i = not_names[0]
                raise ValueError(
                    f"split must hold a split name (a string such as 'train') per image; {len(not_names)} of {n} "
                    f"entries are not strings, e.g. split[{i}] = {self.split[i]!r:.60}"
                )
        if self.wnids is not None:
            self.wnids = [str(w) for w in check_names(self.wnids, "wnids")]
            if len(self.wnids) != len(self.class_names):
                raise ValueError(
                    f"wnids has {len(self.wnids)} entries, expected one per class ({len(self.class_names)})"
                )

    def __len__(self) -> int:
        return len(self.images)

    def __repr__(self) -> str:
        splits = ""
        if self.split is not None:
            names, counts = np.unique(self.split.astype(str), return_counts=True)
            splits = ", " + ", ".join(f"{s}={c}" for s, c in zip(names, counts, strict=True))
        return (
            f"ImageData({self.name!r}, n={len(self)}, shape={self.images.shape[1:]}, "
            f"classes={len(self.class_names)}{splits})"
        )

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    def subset(self, mask_or_index: Any) -> ImageData:
        """A new ImageData holding the chosen instances: a boolean mask (one per instance) or positional indices
        (integers in ``[0, N)``, each at most once). At least one instance must be chosen: an ImageData holds at
        least one image."""
        n = len(self)
        index = to_numpy(mask_or_index)
        if index.dtype == bool:
            if index.shape != (n,):
                raise ValueError(f"mask_or_index: a boolean mask must have shape ({n},), got {index.shape}")
            index = np.flatnonzero(index)
        elif index.ndim != 1 or not (np.issubdtype(index.dtype, np.integer) or index.size == 0):
            raise ValueError(
                f"mask_or_index must be a boolean mask of shape ({n},) or a 1-D sequence of integer positions, got "
                f"dtype {index.dtype} of shape {index.shape}"
            )
        if index.size == 0:
            raise ValueError("mask_or_index chooses no instances; an ImageData holds at least one image")
        bad = index[(index < 0) | (index >= n)]
        if bad.size:
            raise ValueError(f"mask_or_index holds positions out of range [0, {n}): {bad[:10].tolist()}")
        index = index.astype(np.int64)
        values, counts = np.unique(index, return_counts=True)
        if (counts > 1).any():
            raise ValueError(
                f"mask_or_index chooses positions more than once: {values[counts > 1][:10].tolist()}; each instance "
                "can be in a subset once (its id is unique)"
            )
        return ImageData(
            images=self.images[index],
            labels=self.labels[index],
            class_names=list(self.class_names),
            name=self.name,
            split=None if self.split is None else self.split[index],
            wnids=self.wnids,
            ids=self.ids[index],
        )

    def where_split(self, split: str) -> ImageData:
        """The instances of one split."""
        if self.split is None:
            raise ValueError(f"{self.name} has no split information")
        if not isinstance(split, str):
            raise TypeError(f"split must be a split name (a string), got {type(split).__name__} {split!r:.60}")
        mask = np.asarray(self.split == split, dtype=bool)
        if not mask.any():
            names = sorted({str(s) for s in self.split})
            raise ValueError(f"no instances with split {split!r}; splits are {names}")
        return self.subset(mask)

    def as_dataset(self):
        """A ``torch.utils.data.Dataset`` yielding (float image tensor C x H x W in [0, 1], label)."""
        from .torch_dataset import ImageArrayDataset

        return ImageArrayDataset(self.images, self.labels)

    def thumbnails(self, ids: Sequence[int], size: int = 64) -> dict[int, bytes]:
        """PNG bytes per id (see :func:`difficulty_widget.data.thumbnails`)."""
        from .thumbnails import thumbnails

        return thumbnails(self.images, ids, size=size, id_index=self.ids)


def _refuse_repeats(names: list[str], name: str) -> None:
    seen: set[str] = set()
    twice = sorted({c for c in names if c in seen or seen.add(c)})
    if twice:
        raise ValueError(f"{name} must be unique, one per class; these appear more than once: {twice[:10]}")
