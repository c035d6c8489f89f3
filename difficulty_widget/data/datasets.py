"""A user's own torch datasets: what is inside the wrappers, and dict items as (image, label) pairs.

``DataLoader``, ``Subset`` and ``ConcatDataset`` hide the datasets that know their class names, their labels and
their transforms; :func:`unwrap` finds them so that :func:`class_names_of`, :func:`targets_of` and
:func:`find_normalize` work through any nesting. :class:`DictItems` turns Hugging Face style items
``{"image": ..., "label": ...}`` into the ``(image, label)`` pairs that extraction reads; :func:`as_pairs` wraps a
dataset only when its items need it. torchvision is imported only when a function needs it.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import ConcatDataset, DataLoader, Dataset, Subset

from .._validation import to_numpy
from .images import ImageData

#: Keys that hold the image in dict items, tried in this order (exactly one must be present).
IMAGE_KEYS = ("image", "img", "pixel_values", "input")
#: Keys that hold the class index in dict items (exactly one must be present).
LABEL_KEYS = ("label", "labels", "target", "fine_label")

Piece = tuple[Any, "np.ndarray | None"]


def unwrap(data: Any) -> list[Piece]:
    """The datasets under ``data``, as ``(dataset, positions)`` pieces that cover its rows in order.

    A ``DataLoader`` stands for its ``.dataset``, a ``ConcatDataset`` for its parts one after the other, a
    ``Subset`` for the rows ``indices`` of its ``.dataset``; nesting is followed to the end. ``positions`` is an
    int64 array of rows of ``dataset`` (``None``: all of them, in order). Anything else is one piece,
    ``[(data, None)]``.
    """
    if isinstance(data, DataLoader):
        return unwrap(data.dataset)
    if isinstance(data, ConcatDataset):
        return [piece for part in data.datasets for piece in unwrap(part)]
    if isinstance(data, Subset):
        return _select(unwrap(data.dataset), to_numpy(data.indices).astype(np.int64).reshape(-1))
    return [(data, None)]


def class_names_of(data: Any) -> list[str] | None:
    """Class names of ``data``, or None when it does not name its classes.

    Read from an :class:`ImageData`'s ``class_names``, a torchvision dataset's ``classes``, or a Hugging Face
    dataset's ``features["label"].names``, through ``DataLoader`` / ``Subset`` / ``ConcatDataset``. Parts that name
    their classes must agree (a ``ValueError`` otherwise); parts that name none are ignored.
    """
    if isinstance(data, ImageData):
        return list(data.class_names)
    return _class_names(data, LABEL_KEYS)


def targets_of(data: Any) -> np.ndarray | None:
    """The int64 labels of ``data`` in row order, read without loading images, or None when it does not expose them.

    Read from ``.targets``, ``.labels``, an ImageFolder's ``.samples``, a two-tensor ``TensorDataset``'s second
    tensor or a Hugging Face label column, through ``DataLoader`` / ``Subset`` / ``ConcatDataset``. None as soon as
    one part has none, or has a ``target_transform`` (its stored labels are not the labels it yields).
    """
    if isinstance(data, ImageData):
        return data.labels.copy()
    return _targets(data, LABEL_KEYS)


def find_normalize(data: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """``(mean, std)`` (float64, one value per channel or one in all) of the torchvision ``transforms.Normalize``
    or ``transforms.v2.Normalize`` in the ``transform`` of ``data``, or None when there is none.

    ``Compose``, nested ``transforms`` lists, ``nn.Sequential`` and a VisionDataset's ``transforms`` are walked,
    through ``DataLoader`` / ``Subset`` / ``ConcatDataset``; several Normalize in a row are combined into one
    (``x = y * std + mean`` undoes them all). Parts that normalise differently raise a ``ValueError``.
    """
    found: list[tuple[np.ndarray, np.ndarray] | None] = []
    for leaf in {id(leaf): leaf for leaf, _ in unwrap(data)}.values():
        stats = _leaf_normalize(leaf)
        if not any(_same_stats(stats, other) for other in found):
            found.append(stats)
    if len(found) > 1:
        described = ["none" if s is None else f"mean {s[0].tolist()}, std {s[1].tolist()}" for s in found]
        raise ValueError(
            f"the parts of data normalise differently ({'; '.join(described)}): pass them one by one, e.g. "
            "images=(part_a, part_b), so that each part's Normalize is undone"
        )
    return found[0] if found else None


def pick_key(item: Mapping, candidates: Sequence[str], argument: str, given: str | None = None) -> str:
    """The key of a dict item named by ``given``, else the one key of ``candidates`` it has.

    ``argument`` names the option that chooses the key (``"image_key"``, ``"label_key"``) in the ``ValueError``
    raised when ``given`` is missing from the item or when none, or more than one, of ``candidates`` is present.
    """
    keys = list(item.keys())
    if given is not None:
        if given not in item:
            raise ValueError(f"{argument}={given!r} is not a key of the items; they have keys {keys}")
        return given
    present = [k for k in candidates if k in item]
    if len(present) == 1:
        return present[0]
    what = argument.removesuffix("_key")
    found = "none" if not present else f"more than one ({present})"
    raise ValueError(
        f"cannot tell which key of the items holds the {what}: the items have keys {keys}, with {found} of the "
        f"usual {list(candidates)}; pass {argument}=, e.g. DictItems(dataset, image_key=..., label_key=...)"
    )


def as_image_tensor(value: Any) -> torch.Tensor:
    """An image from a dict item as a tensor: PIL images and integer arrays/tensors (H x W, H x W x C or C x H x W)
    become float C x H x W in [0, 1] (PIL through ``torchvision.transforms.functional.to_tensor``); float values
    pass unchanged (float64 as float32)."""
    from PIL import Image

    if isinstance(value, Image.Image):
        from torchvision.transforms.functional import to_tensor

        return to_tensor(value)
    if not isinstance(value, torch.Tensor):
        arr = np.asarray(value)
        if arr.dtype.kind not in "biuf":  # strings, objects, complex, datetimes: no pixels
            raise ValueError(
                f"an image must be a PIL image or an array or tensor of numbers, got {type(value).__name__} "
                f"{value!r:.60} (dtype {arr.dtype})"
            )
        value = arr
    elif value.dtype.is_complex:
        raise ValueError(f"an image must hold real numbers, got a tensor of dtype {value.dtype}")
    x = value if isinstance(value, torch.Tensor) else torch.as_tensor(value)
    if x.dtype.is_floating_point:
        return x.float() if x.dtype == torch.float64 else x
    if x.ndim == 2:
        x = x.unsqueeze(0)
    elif x.ndim == 3 and x.shape[-1] in (1, 3, 4) and x.shape[0] not in (1, 3, 4):
        x = x.permute(2, 0, 1)
    return x.float() if x.dtype == torch.bool else x.float().div_(255.0)


class DictItems(Dataset):
    """A map-style dataset over one whose items are dicts (Hugging Face style): items ``(image_tensor, label)``.

    ``image_key`` / ``label_key`` name the entries; when None they are found in the first item among
    :data:`IMAGE_KEYS` / :data:`LABEL_KEYS`. Keys are checked against the first item: a ``ValueError`` names the
    item's keys when a given key is missing or the usual keys are absent or ambiguous.
    Images go through :func:`as_image_tensor`; labels become ints. ``classes`` and ``targets`` come from the
    wrapped dataset when it has them (see :func:`class_names_of`, :func:`targets_of`).
    """

    def __init__(self, dataset: Any, image_key: str | None = None, label_key: str | None = None) -> None:
        first = _first_item(dataset)
        if first is None and (image_key is None or label_key is None):
            raise ValueError("the dataset has no items to find its keys in; pass image_key= and label_key=")
        self._bind(dataset, first, image_key, label_key)

    def _bind(self, dataset: Any, first: Any, image_key: str | None, label_key: str | None) -> None:
        """Keep ``dataset`` and the keys, checked against (or found in) its first item when it has one."""
        if first is not None:
            if not isinstance(first, Mapping):
                raise ValueError(f"DictItems needs items that are dicts; item 0 is a {type(first).__name__}")
            image_key = pick_key(first, IMAGE_KEYS, "image_key", image_key)
            label_key = pick_key(first, LABEL_KEYS, "label_key", label_key)
        self.dataset = dataset
        self.image_key, self.label_key = image_key, label_key

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        item = self.dataset[index]
        missing = [k for k in (self.image_key, self.label_key) if k not in item]
        if missing:
            raise ValueError(f"item {index} has no key {missing[0]!r}; its keys are {list(item.keys())}")
        try:
            image = as_image_tensor(item[self.image_key])
        except (TypeError, ValueError, RuntimeError) as err:  # PIL, NumPy and torch conversions of odd values
            raise ValueError(f"item {index}, key {self.image_key!r}: {err}") from None
        return image, _as_label(item[self.label_key], index, self.label_key)

    def __repr__(self) -> str:
        return f"DictItems({type(self.dataset).__name__}, image_key={self.image_key!r}, label_key={self.label_key!r})"

    @property
    def classes(self) -> list[str] | None:
        """The class names the wrapped dataset gives for ``label_key``, or None."""
        return _class_names(self.dataset, (self.label_key,))

    @property
    def targets(self) -> np.ndarray | None:
        """The labels the wrapped dataset exposes for ``label_key`` without loading images, or None."""
        return _targets(self.dataset, (self.label_key,))


def as_pairs(data: Any, image_key: str | None = None, label_key: str | None = None) -> Any:
    """``data`` itself when its items are ``(image, label)`` tuples, a :class:`DictItems` over it when they are
    dicts.

    The first item is read once to decide. An :class:`ImageData`, a pair of arrays, a dataset with a ``batch``
    method or an iterable-style dataset is returned unchanged. A ``DataLoader`` over dict items is refused with
    how to fix it (its batches are dicts: pass the dataset instead). Items of any other kind, or keys given for
    tuple items, raise a ``ValueError``.
    """
    if isinstance(data, (ImageData, DictItems, tuple)) or hasattr(data, "batch"):
        return data
    if isinstance(data, DataLoader):
        first = _first_item(data.dataset)
        if isinstance(first, Mapping):
            raise ValueError(
                f"the DataLoader's items are dicts (keys {list(first.keys())}), so are its batches: pass the dataset "
                "instead (loader.dataset), whose items are then read as (image, label) pairs, or a DataLoader over "
                "DictItems(loader.dataset)"
            )
        return data
    first = _first_item(data)
    if first is None:
        return data
    if isinstance(first, Mapping):
        items = DictItems.__new__(DictItems)  # the first item is read once, here
        items._bind(data, first, image_key, label_key)
        return items
    if not isinstance(first, (tuple, list)):
        raise ValueError(
            f"the items of data must be (image, label) pairs or dicts with an image and a label; item 0 is a "
            f"{type(first).__name__}"
        )
    if image_key is not None or label_key is not None:
        raise ValueError("image_key= and label_key= apply to datasets whose items are dicts; these items are tuples")
    return data


# ---------------------------------------------------------------------------------------------------- internals
def _select(pieces: list[Piece], index: np.ndarray) -> list[Piece]:
    """The pieces for rows ``index`` of the rows that ``pieces`` cover (Subset indices, negative ones from the end)."""
    lengths = np.array([len(d) if p is None else len(p) for d, p in pieces], dtype=np.int64)
    total = int(lengths.sum())
    index = np.where(index < 0, index + total, index)
    bad = index[(index < 0) | (index >= total)]
    if bad.size:
        raise ValueError(f"Subset indices out of range for a dataset of {total} items: {bad[:10].tolist()}")
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    which = np.searchsorted(starts, index, side="right") - 1
    cuts = np.flatnonzero(np.diff(which)) + 1
    out: list[Piece] = []
    for run_index, run_which in zip(np.split(index, cuts), np.split(which, cuts), strict=True):
        if not len(run_index):
            continue
        dataset, positions = pieces[int(run_which[0])]
        local = run_index - starts[int(run_which[0])]
        out.append((dataset, local if positions is None else positions[local]))
    return out


def _first_item(data: Any) -> Any:
    """Item 0 of a map-style dataset, or None when it has none (empty, or iterable-style)."""
    if not (hasattr(data, "__getitem__") and hasattr(data, "__len__")) or len(data) == 0:
        return None
    return data[0]


def _as_label(value: Any, index: int, key: str | None = None) -> int:
    where = f"item {index}" if key is None else f"item {index}, key {key!r}"
    try:
        arr = to_numpy(value)
    except (TypeError, ValueError, RuntimeError):
        arr = np.asarray(None, dtype=object)
    if arr.size != 1 or arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        bool_note = " (True/False is not a class index)" if arr.dtype == bool else ""
        raise ValueError(f"{where}: the label must be one integer class index, got {value!r:.60}{bool_note}")
    return int(arr.reshape(-1)[0])


def _class_names(data: Any, label_keys: Sequence[str]) -> list[str] | None:
    found: list[list[str]] = []
    for leaf in {id(leaf): leaf for leaf, _ in unwrap(data)}.values():
        names = _leaf_class_names(leaf, label_keys)
        if names is not None and names not in found:
            found.append(names)
    if len(found) > 1:
        shown = "; ".join(str(names[:5]) + ("..." if len(names) > 5 else "") for names in found)
        raise ValueError(f"the parts of data name different classes ({shown}); pass class_names= explicitly")
    return found[0] if found else None


def _leaf_class_names(leaf: Any, label_keys: Sequence[str]) -> list[str] | None:
    if isinstance(leaf, ImageData):
        return list(leaf.class_names)
    if isinstance(leaf, DictItems):
        return leaf.classes
    classes = getattr(leaf, "classes", None)
    if isinstance(classes, (list, tuple, np.ndarray)) and len(classes):
        return [str(c) for c in classes]
    features = getattr(leaf, "features", None)  # a Hugging Face dataset: ClassLabel features have .names
    if isinstance(features, Mapping):
        for key in label_keys:
            names = getattr(features.get(key), "names", None)
            if names:
                return [str(c) for c in names]
    return None


def _targets(data: Any, label_keys: Sequence[str]) -> np.ndarray | None:
    chunks = []
    seen: dict[int, np.ndarray | None] = {}  # a Subset of a ConcatDataset has many runs per dataset
    for leaf, positions in unwrap(data):
        if id(leaf) not in seen:
            seen[id(leaf)] = _leaf_targets(leaf, label_keys)
        labels = seen[id(leaf)]
        if labels is None:
            return None
        chunks.append(labels if positions is None else labels[positions])
    return np.concatenate(chunks) if chunks else np.empty(0, dtype=np.int64)


def _leaf_targets(leaf: Any, label_keys: Sequence[str]) -> np.ndarray | None:
    if isinstance(leaf, ImageData):
        return leaf.labels
    if isinstance(leaf, DictItems):
        return leaf.targets
    if _relabels(leaf) or not hasattr(leaf, "__len__"):
        return None
    n = len(leaf)
    for name in ("targets", "labels"):
        labels = _int_labels(getattr(leaf, name, None), n)
        if labels is not None:
            return labels
    samples = getattr(leaf, "samples", None)  # ImageFolder / DatasetFolder: (path, class index) pairs
    if isinstance(samples, list) and len(samples) == n and all(isinstance(s, tuple) and len(s) == 2 for s in samples):
        return _int_labels([s[1] for s in samples], n)
    tensors = getattr(leaf, "tensors", None)  # TensorDataset(images, labels)
    if isinstance(tensors, tuple) and len(tensors) == 2:
        return _int_labels(tensors[1], n)
    columns = getattr(leaf, "column_names", None)  # a Hugging Face dataset reads one column without the images
    if isinstance(columns, list):
        for key in label_keys:
            if key in columns:
                return _int_labels(leaf[key], n)
    return None


def _relabels(leaf: Any) -> bool:
    """Whether the labels a dataset yields may differ from those it stores (a target or joint transform)."""
    if getattr(leaf, "target_transform", None) is not None:
        return True
    vision = sys.modules.get("torchvision.datasets.vision")  # not imported: leaf is no VisionDataset
    joint = getattr(leaf, "transforms", None)
    if vision is None or joint is None or not isinstance(leaf, vision.VisionDataset):
        return False
    return not isinstance(joint, vision.StandardTransform) or joint.target_transform is not None


def _int_labels(value: Any, n: int) -> np.ndarray | None:
    if value is None:
        return None
    try:
        arr = to_numpy(value)
    except (TypeError, ValueError, RuntimeError):
        return None
    if arr.ndim != 1 or len(arr) != n or not np.issubdtype(arr.dtype, np.integer):
        return None
    return arr.astype(np.int64)


def _leaf_normalize(leaf: Any) -> tuple[np.ndarray, np.ndarray] | None:
    if isinstance(leaf, DictItems):
        return find_normalize(leaf.dataset)
    transform = getattr(leaf, "transform", None)
    if transform is None:
        transform = getattr(leaf, "transforms", None)
    if transform is None:
        return None
    found: list[tuple[np.ndarray, np.ndarray]] = []
    _walk(transform, found, set())
    if not found:
        return None
    mean, std = np.zeros(1), np.ones(1)
    for m, s in found:  # y = (x - m1) / s1, z = (y - m2) / s2  =>  x = z * (s1 s2) + (m1 + m2 s1)
        mean, std = mean + m * std, std * s
    return mean, std


def _walk(transform: Any, found: list[tuple[np.ndarray, np.ndarray]], seen: set[int]) -> None:
    from torchvision import transforms as tv
    from torchvision.transforms import v2

    if transform is None or id(transform) in seen:
        return
    seen.add(id(transform))
    if isinstance(transform, (tv.Normalize, v2.Normalize)):
        mean = np.asarray(to_numpy(transform.mean), dtype=np.float64).reshape(-1)
        std = np.asarray(to_numpy(transform.std), dtype=np.float64).reshape(-1)
        found.append((mean, std))
    elif isinstance(transform, (list, tuple, torch.nn.Sequential, torch.nn.ModuleList)):
        for t in transform:
            _walk(t, found, seen)
    elif isinstance(getattr(transform, "transforms", None), (list, tuple, torch.nn.ModuleList)):
        _walk(transform.transforms, found, seen)  # Compose, v2.Compose, RandomApply, RandomOrder, ...
    elif getattr(transform, "transform", None) is not None:
        _walk(transform.transform, found, seen)  # a VisionDataset's StandardTransform


def _same_stats(a: tuple[np.ndarray, np.ndarray] | None, b: tuple[np.ndarray, np.ndarray] | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return all(x.shape == y.shape and np.allclose(x, y, rtol=0, atol=1e-12) for x, y in zip(a, b, strict=True))
