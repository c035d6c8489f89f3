"""``analyze``: from a model and data to an Analysis, computing every measure the inputs allow."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .analysis import Analysis
from .data.images import ImageData
from .measures import registry


def analysis_from_extraction(
    extraction: Any,
    *,
    class_names: Sequence[str] | None = None,
    ids: Sequence[int] | None = None,
    split: Sequence[str] | None = None,
    wnids: Sequence[str] | None = None,
    provenance: Mapping[str, Any] | None = None,
) -> Analysis:
    """Score an :class:`~difficulty_widget.extract.Extraction` with every measure its logits and labels allow."""
    scores = registry.compute_available({"logits": extraction.logits, "labels": extraction.labels})
    n = len(extraction.labels)
    frame = pd.DataFrame({"id": np.arange(n) if ids is None else np.asarray(ids), "label": extraction.labels})
    if split is not None:
        frame["split"] = np.asarray(split)
    frame = pd.concat([frame, scores], axis=1)
    if class_names is None:
        class_names = [str(c) for c in range(extraction.logits.shape[1])]
    if len(class_names) != extraction.logits.shape[1]:
        raise ValueError(
            f"class_names has {len(class_names)} names but the model outputs {extraction.logits.shape[1]} logits"
        )
    return Analysis(frame, class_names, wnids=wnids, provenance=provenance)


def analyze(
    model: Any,
    data: Any,
    *,
    class_names: Sequence[str] | None = None,
    model_name: str | None = None,
    provenance: Mapping[str, Any] | None = None,
    batch_size: int = 256,
    device: str | None = None,
    progress: bool = True,
) -> Analysis:
    """Run ``model`` over ``data`` once and return an :class:`Analysis` with every measure that applies.

    ``data`` is anything :func:`~difficulty_widget.extract.extract` accepts. With an
    :class:`~difficulty_widget.data.ImageData`, ids, splits, class names and wnids come from it; with a
    torchvision dataset (``ImageFolder``, ...), class names come from its ``classes``.
    """
    from .extract import extract

    extraction = extract(model, data, batch_size=batch_size, device=device, progress=progress)
    info: dict[str, Any] = {"model": model_name or type(model).__name__}
    ids = split = wnids = None
    if isinstance(data, ImageData):
        info["dataset"] = data.name
        ids, split, wnids = data.ids, data.split, data.wnids
        class_names = class_names or data.class_names
    elif class_names is None and getattr(data, "classes", None) is not None:
        class_names = list(data.classes)  # torchvision datasets such as ImageFolder name their classes
    info.update(provenance or {})
    return analysis_from_extraction(
        extraction, class_names=class_names, ids=ids, split=split, wnids=wnids, provenance=info
    )
