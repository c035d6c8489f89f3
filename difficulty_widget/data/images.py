"""In-memory image datasets: uint8 images, integer labels, class names, and a torch view of them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._validation import check_images, check_labels


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
        self.class_names = [str(c) for c in self.class_names]
        self.labels = check_labels(self.labels, n=len(self.images), n_classes=len(self.class_names))
        n = len(self.images)
        if self.ids is None:
            self.ids = np.arange(n, dtype=np.int64)
        else:
            self.ids = check_labels(self.ids, n=n, name="ids")
            if len(np.unique(self.ids)) != n:
                raise ValueError("ids must be unique, one per image")
        if self.split is not None:
            self.split = np.asarray(self.split, dtype=object)
            if self.split.shape != (n,):
                raise ValueError(f"split must have shape ({n},), got {self.split.shape}")
        if self.wnids is not None and len(self.wnids) != len(self.class_names):
            raise ValueError(f"wnids has {len(self.wnids)} entries, expected one per class ({len(self.class_names)})")

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
        """A new ImageData holding the chosen instances (boolean mask or positional indices)."""
        index = np.asarray(mask_or_index)
        if index.dtype == bool and index.shape != (len(self),):
            raise ValueError(f"boolean mask must have shape ({len(self)},), got {index.shape}")
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
        mask = self.split == split
        if not mask.any():
            raise ValueError(f"no instances with split {split!r}; splits are {sorted(set(self.split))}")
        return self.subset(mask)

    def as_dataset(self):
        """A ``torch.utils.data.Dataset`` yielding (float image tensor C x H x W in [0, 1], label)."""
        from .torch_dataset import ImageArrayDataset

        return ImageArrayDataset(self.images, self.labels)

    def thumbnails(self, ids: Sequence[int], size: int = 64) -> dict[int, bytes]:
        """PNG bytes per id (see :func:`difficulty_widget.data.thumbnails`)."""
        from .thumbnails import thumbnails

        return thumbnails(self.images, ids, size=size, id_index=self.ids)
