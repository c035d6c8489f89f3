"""Checks that ``analyze`` makes before the expensive pass, each in well under a second, each a ``ValueError``
that names the argument, what was expected and how to fix it.

- the training dynamics' shape (epochs >= 2, one row per training instance, one column per logit), and the
  out-of-sample probabilities' (one row per training instance, one column per class, rows summing to 1);
- class names against the model's output width (read from one traced batch);
- labels against the model's classes, from the dataset's own targets when it exposes them;
- an ``ImageFolder`` of ImageNet wnid folders (``n01440764``, ...) meeting a 1000-class model: its labels are
  remapped to the model's ImageNet class index (folder order is not the model's order), and the classes get
  ImageNet's names and wnids.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

WNID = re.compile(r"n\d{8}")


@dataclass(frozen=True)
class ClassPlan:
    """The classes of an analysis: ``names``, optional ``wnids`` and the ``label_map`` (dataset label -> model
    class; None when they agree)."""

    names: list[str]
    wnids: list[str] | None = None
    label_map: np.ndarray | None = None
    note: str | None = None


def logits_per_epoch_values(logits_per_epoch: Any) -> Any:
    """The array of a recorder, a training result or an array of per-epoch logits."""
    values = getattr(logits_per_epoch, "logits_per_epoch", logits_per_epoch)
    if values is None:
        raise ValueError("logits_per_epoch: the training result holds no recorded logits (record_logits=False?)")
    return values


def check_logits_per_epoch(logits_per_epoch: Any, n_train: int, n_classes: int | None = None) -> np.ndarray:
    """(E, n_train, C) per-epoch logits with E >= 2 (training dynamics need at least two records)."""
    z = np.asarray(logits_per_epoch_values(logits_per_epoch))
    expected = f"(n_epochs >= 2, {n_train}, {'n_classes' if n_classes is None else n_classes})"
    if z.ndim != 3 or z.shape[1] != n_train or (n_classes is not None and z.shape[2] != n_classes):
        raise ValueError(
            f"logits_per_epoch must have shape {expected}: every epoch's logits for the {n_train} training rows in "
            f"order, got {z.shape}"
        )
    if z.shape[0] < 2:
        raise ValueError(
            f"logits_per_epoch holds {z.shape[0]} epoch; training dynamics need at least 2 recorded epochs "
            "(record every epoch: train_small_model(..., record_logits=True) or a DynamicsRecorder), or leave "
            "logits_per_epoch out"
        )
    return z


def check_pred_probs(pred_probs: Any, n_train: int, n_classes: int | None = None) -> np.ndarray:
    """(n_train, C) out-of-sample class probabilities of the training rows, finite, in [0, 1], rows summing to 1."""
    from .measures.label_issues import check_probabilities

    p = check_probabilities(pred_probs, name="pred_probs")
    if len(p) != n_train or (n_classes is not None and p.shape[1] != n_classes):
        expected = f"({n_train}, {'n_classes' if n_classes is None else n_classes})"
        raise ValueError(
            f"pred_probs must have shape {expected}: one row of class probabilities per training row, in order, "
            f"got {p.shape}"
        )
    return p


def check_input_gradients(input_gradients: Any, n_train: int) -> Any:
    """The input gradients of VoG (a ``GradientVariance``, a recorder or training result holding one, or a
    K x N_train x ... array with K >= 2), covering the ``n_train`` training rows."""
    from .measures.vog import GradientVariance, input_gradient_values

    values = input_gradient_values(input_gradients)
    if isinstance(values, GradientVariance):
        checkpoints, rows = values.count, (values.shape or (0,))[0]
    else:
        arr = np.asarray(values)
        if arr.ndim < 3:
            raise ValueError(f"input_gradients must have shape (n_checkpoints, {n_train}, ...), got {arr.shape}")
        checkpoints, rows = arr.shape[0], arr.shape[1]
    if checkpoints < 2 or rows != n_train:
        raise ValueError(
            f"input_gradients must cover the {n_train} training rows at >= 2 checkpoints, got {rows} rows at "
            f"{checkpoints} checkpoint(s) (record them every epoch: train_model(..., record_input_gradients=True) "
            "or DynamicsRecorder(data, input_gradients=True))"
        )
    return values


def plan_classes(n_classes: int, class_names: Sequence[str] | None, data_classes: Sequence[str] | None) -> ClassPlan:
    """Class names (and a label remapping) for a model with ``n_classes`` outputs.

    ``class_names``: given by the user (wins); ``data_classes``: what the dataset calls its classes (``classes``
    of an ImageFolder). ImageNet wnid folders with a 1000-class model are remapped to ImageNet's order.
    """
    imagenet = imagenet_classes_plan(n_classes, data_classes)
    if imagenet is not None:
        if class_names is not None and len(class_names) != n_classes:
            raise ValueError(
                f"class_names has {len(class_names)} names, but the model outputs {n_classes} logits and the data's "
                f"folders are ImageNet wnids (remapped to the model's ImageNet order): pass {n_classes} names in "
                "ImageNet order, or leave class_names out to use ImageNet's"
            )
        if class_names is None:
            return imagenet
        return ClassPlan(list(map(str, class_names)), imagenet.wnids, imagenet.label_map, imagenet.note)
    names = class_names if class_names is not None else data_classes
    if names is None:
        return ClassPlan([str(c) for c in range(n_classes)])
    names = [str(c) for c in names]
    if len(names) != n_classes:
        source = "class_names" if class_names is not None else "the data's classes"
        hint = (
            "the model was trained on other classes than the data has: pass class_names with one name per model "
            "output (and label_map=, an array from the data's label to the model's class index, if the orders differ)"
        )
        raise ValueError(f"{source} has {len(names)} names but the model outputs {n_classes} logits; {hint}")
    return ClassPlan(names)


def imagenet_classes_plan(n_classes: int, data_classes: Sequence[str] | None) -> ClassPlan | None:
    """The remapping of ImageNet wnid folders to a 1000-class model's order (None when it does not apply)."""
    if n_classes != 1000 or not data_classes or not all(WNID.fullmatch(str(c)) for c in data_classes):
        return None
    from .semantics.datasets import imagenet1k_classes

    table = imagenet1k_classes()
    index = {w: i for i, w in enumerate(table["wnid"])}
    unknown = [str(c) for c in data_classes if str(c) not in index]
    if unknown:
        raise ValueError(
            f"the data's folders look like ImageNet wnids but {len(unknown)} are not ImageNet-1k classes "
            f"(e.g. {unknown[:3]}); pass class_names= and label_map= for the model's classes"
        )
    label_map = np.array([index[str(c)] for c in data_classes], dtype=np.int64)
    note = (
        f"ImageNet wnid folders: the data's {len(data_classes)} classes were remapped to the model's ImageNet-1k "
        "class indices (names and wnids from ImageNet)"
    )
    return ClassPlan(table["name"].tolist(), table["wnid"].tolist(), label_map, note)


def check_label_map(label_map: Any, n_classes: int) -> np.ndarray:
    """An integer array whose values are model classes in [0, n_classes)."""
    arr = np.asarray(label_map)
    if arr.ndim != 1 or arr.size == 0 or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(
            f"label_map must be a 1-D integer array (data label -> model class), got {arr.dtype} {arr.shape}"
        )
    if arr.min() < 0 or arr.max() >= n_classes:
        raise ValueError(f"label_map values must be model classes in [0, {n_classes}), got {arr.min()}..{arr.max()}")
    return arr.astype(np.int64)


def check_targets(targets: np.ndarray | None, n_classes: int, label_map: np.ndarray | None, name: str) -> None:
    """The dataset's own labels (when it exposes them) lie in the model's classes (after ``label_map``)."""
    if targets is None or len(targets) == 0:
        return
    targets = np.asarray(targets).astype(np.int64)
    low, high = int(targets.min()), int(targets.max())
    limit = n_classes if label_map is None else len(label_map)
    if low < 0 or high >= limit:
        what = f"the model's {n_classes} classes" if label_map is None else f"label_map's {limit} entries"
        raise ValueError(
            f"{name} has labels from {low} to {high}, outside {what}: the dataset's labels do not match the model "
            "(check the model's number of outputs, or pass label_map=)"
        )
