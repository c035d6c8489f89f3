"""``analyze``: from a model and data to an Analysis, computing every measure the inputs allow."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .analysis import Analysis
from .data.images import ImageData
from .measures import registry
from .measures.depth import depth_flow, depth_scores
from .measures.flow import layer_tables

PENULTIMATE = "penultimate"


def analysis_from_extraction(
    extraction: Any,
    *,
    class_names: Sequence[str] | None = None,
    ids: Sequence[int] | None = None,
    split: Sequence[str] | None = None,
    wnids: Sequence[str] | None = None,
    provenance: Mapping[str, Any] | None = None,
    depth_probes: Sequence[str] | None = None,
    features_probe: str | None = None,
    support_mask: Any = None,
    logits_per_epoch: Any = None,
    structural_similarity: Any = None,
    hierarchy: Any = None,
    progress: bool = False,
) -> Analysis:
    """Score an :class:`~difficulty_widget.extract.Extraction` with every measure its contents allow.

    Logits and labels give the model-perspective scores; ``depth_probes`` (names of extracted probes, in network
    order) give prediction depth; ``features_probe`` (one extracted probe, usually the penultimate layer) gives
    the data-perspective scores; ``logits_per_epoch`` (E x N_train x C, the training rows in order) gives the
    training dynamics. ``support_mask`` marks the training rows that neighbour-based measures compare against
    (every row when ``None``). A C x C ``structural_similarity`` (template cosine) and a class ``hierarchy`` give
    the semantic error columns.

    With prediction depth come the tables ``layer_agreement`` (float32) and ``layer_vote_matches`` (bool) in
    ``analysis.tables``: an ``id`` column, then one column per depth probe in probe order, one row per row of
    ``analysis.df`` in its order (per probe, the k-NN label agreement and whether the k-NN vote equals the final
    prediction, from the neighbours of the depth votes; see :mod:`difficulty_widget.measures.flow`).
    """
    n = len(extraction.labels)
    inputs: dict[str, Any] = {
        "logits": extraction.logits,
        "labels": extraction.labels,
        "predictions": extraction.predictions,
        "progress": progress,
    }
    if support_mask is not None:
        inputs["support_mask"] = np.asarray(support_mask, dtype=bool)
    if depth_probes:
        inputs["probes"] = [_probe(extraction, name) for name in depth_probes]
    if features_probe is not None:
        inputs["features"] = _probe(extraction, features_probe)
    if logits_per_epoch is not None:
        inputs["logits_per_epoch"] = _check_logits_per_epoch(logits_per_epoch, support_mask, n, extraction)
    if structural_similarity is not None:
        inputs["structural_similarity"] = structural_similarity
    if hierarchy is not None:
        inputs["hierarchy"] = hierarchy
    flow = None
    if depth_probes:  # depth with its flow data in one pass; the registry reuses its columns
        flow = depth_flow(
            inputs["probes"], extraction.labels, extraction.predictions, support_mask=inputs.get("support_mask"),
            progress=progress,
        )  # fmt: skip
    scores = registry.compute_available(inputs, precomputed=None if flow is None else {depth_scores: flow.frame})
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
    tables = {}
    if flow is not None:
        tables = layer_tables(frame["id"].to_numpy(), flow.agreement, flow.vote_matches, list(depth_probes))
        provenance = dict(provenance or {})
        provenance.setdefault("depth_probes", list(depth_probes))  # the probe order, unless given
    return Analysis(frame, class_names, wnids=wnids, provenance=provenance, tables=tables)


def _probe(extraction: Any, name: str) -> np.ndarray:
    if name not in extraction.probes:
        raise ValueError(f"probe {name!r} was not extracted; extracted probes: {list(extraction.probes)}")
    return extraction.probes[name]


def _check_logits_per_epoch(logits_per_epoch: Any, support_mask: Any, n: int, extraction: Any) -> np.ndarray:
    values = getattr(logits_per_epoch, "logits_per_epoch", logits_per_epoch)  # a recorder or a TrainingResult
    if values is None:
        raise ValueError("logits_per_epoch: the training result holds no recorded logits (record_logits=False?)")
    z = np.asarray(values)
    n_train = n if support_mask is None else int(np.count_nonzero(support_mask))
    expected = ("n_epochs", n_train, extraction.logits.shape[1])
    if z.ndim != 3 or z.shape[1:] != expected[1:]:
        raise ValueError(
            f"logits_per_epoch must have shape {expected} (every epoch's logits for the {n_train} training rows, "
            f"in order), got {z.shape}"
        )
    return z


def analyze(
    model: Any,
    data: Any,
    test_data: Any = None,
    *,
    probes: str | Sequence[str] | None = "default",
    features: str | None = PENULTIMATE,
    logits_per_epoch: Any = None,
    train_split: str = "train",
    hierarchy: Any = None,
    max_probe_dim: int | None = 4096,
    class_names: Sequence[str] | None = None,
    model_name: str | None = None,
    provenance: Mapping[str, Any] | None = None,
    batch_size: int = 256,
    device: str | None = None,
    progress: bool = True,
) -> Analysis:
    """Run ``model`` over the data once and return an :class:`Analysis` with every measure that applies.

    Parameters
    ----------
    model : a torch classifier returning logits.
    data : the instances to score: anything :func:`~difficulty_widget.extract.extract` accepts. With an
        :class:`~difficulty_widget.data.ImageData`, ids, splits, class names and wnids come from it; with a
        torchvision dataset (``ImageFolder``, ...), class names come from its ``classes``.
    test_data : optional held-out instances; then ``data`` is the training set (split ``"train"``) and these
        rows get split ``"test"``. Without it, the rows of ``data`` whose split is ``train_split`` are the
        training set, or every row when none is.
    probes : the layers for prediction depth: ``"default"`` (input, every top-level child, logits), a list of
        names from ``model.named_modules()`` plus ``"input"``/``"logits"``, or ``None`` for no depth.
        Embeddings larger than ``max_probe_dim`` are average-pooled (recorded in the provenance).
    features : the probe whose embedding feeds the data-perspective scores (k-NN agreement, centroid distance,
        density); ``"penultimate"`` is the last default probe before the logits; ``None`` skips them.
    logits_per_epoch : training dynamics: an (E x N_train x C) array of the training rows' logits per epoch, a
        :class:`~difficulty_widget.extract.DynamicsRecorder` or a ``TrainingResult`` with recorded logits.

    hierarchy : a :class:`~difficulty_widget.semantics.Hierarchy` over the classes (e.g. ``WordNetHierarchy``) for
        ``error_semantic_depth``. ``error_similarity_rank`` comes from the model's own last linear layer (class
        templates) whenever it has one.

    Neighbour-based scores compare every row with the training rows (k = 30; a training row never counts as
    its own neighbour); training dynamics fill the training rows and leave the others missing. With prediction
    depth, ``analysis.tables`` holds the layer-wise flow data ``layer_agreement`` and ``layer_vote_matches``
    (see :func:`analysis_from_extraction`).
    """
    from .extract import extract
    from .extract.extraction import default_probe_names
    from .extract.probes import LOGITS, resolve_probes

    defaults: list[str] = []
    if probes == "default" or features == PENULTIMATE:
        defaults = default_probe_names(model, data, device=device)
    depth_probes = defaults if probes == "default" else resolve_probes(model, probes)
    features_probe = None
    if features is not None:
        features_probe = [p for p in defaults if p != LOGITS][-1] if features == PENULTIMATE else features
        resolve_probes(model, [features_probe])
    wanted = depth_probes + [p for p in [features_probe] if p is not None and p not in depth_probes]

    info: dict[str, Any] = {"model": model_name or type(model).__name__}
    ids = split = wnids = None
    combined = _combine(data, test_data)
    if isinstance(combined, ImageData):
        info["dataset"] = combined.name
        ids, split, wnids = combined.ids, combined.split, combined.wnids
        class_names = class_names or combined.class_names
        extraction = extract(model, combined, probes=wanted, max_probe_dim=max_probe_dim, batch_size=batch_size,
                             device=device, progress=progress)  # fmt: skip
    else:
        parts = [p for p in (data, test_data) if p is not None]
        extractions = [
            extract(model, p, probes=wanted, max_probe_dim=max_probe_dim, batch_size=batch_size, device=device,
                    progress=progress)
            for p in parts
        ]  # fmt: skip
        extraction = _concatenate(extractions)
        if test_data is not None:
            split = np.repeat(["train", "test"], [len(e.labels) for e in extractions])
        if class_names is None and getattr(data, "classes", None) is not None:
            class_names = list(data.classes)  # torchvision datasets such as ImageFolder name their classes

    support_mask = None
    if split is not None and (np.asarray(split) == train_split).any():
        support_mask = np.asarray(split) == train_split
    if depth_probes:
        info["depth_probes"] = {p: extraction.reductions[p] for p in depth_probes}
    if features_probe is not None:
        info["features_probe"] = features_probe
    if depth_probes or features_probe is not None or logits_per_epoch is not None:
        info["training_rows"] = f"split == {train_split!r}" if support_mask is not None else "all rows"
        info["k"] = 30
    structural = _structural_similarity(model, extraction.logits.shape[1])
    if structural is not None:
        info["templates"] = "last linear layer"
    info.update(provenance or {})
    return analysis_from_extraction(
        extraction, class_names=class_names, ids=ids, split=split, wnids=wnids, provenance=info,
        depth_probes=depth_probes, features_probe=features_probe, support_mask=support_mask,
        logits_per_epoch=logits_per_epoch, structural_similarity=structural, hierarchy=hierarchy, progress=progress,
    )  # fmt: skip


def _structural_similarity(model: Any, n_classes: int) -> np.ndarray | None:
    """Template cosine similarity from the model's last linear layer, or None when it has no usable one."""
    from .semantics import class_templates, structural_similarity

    try:
        templates = class_templates(model)
    except ValueError:
        return None
    return structural_similarity(templates) if len(templates) == n_classes else None


def _combine(data: Any, test_data: Any) -> Any:
    """One ImageData of training and test rows when both are ImageData; otherwise ``data`` unchanged."""
    if test_data is None:
        return data
    if not (isinstance(data, ImageData) and isinstance(test_data, ImageData)):
        return None
    if data.class_names != test_data.class_names:
        raise ValueError("data and test_data have different class_names")
    if data.images.shape[1:] != test_data.images.shape[1:]:
        raise ValueError(f"data images are {data.images.shape[1:]} but test_data images {test_data.images.shape[1:]}")
    overlap = np.intersect1d(data.ids, test_data.ids)
    if overlap.size:
        raise ValueError(
            f"data and test_data share {overlap.size} ids (e.g. {overlap[:5].tolist()}); ids must be unique across "
            "both (the loaders give test images ids after the training images)"
        )
    return ImageData(
        images=np.concatenate([data.images, test_data.images]),
        labels=np.concatenate([data.labels, test_data.labels]),
        class_names=list(data.class_names),
        name=data.name,
        split=np.repeat(np.array(["train", "test"], dtype=object), [len(data), len(test_data)]),
        wnids=data.wnids,
        ids=np.concatenate([data.ids, test_data.ids]),
    )


def _concatenate(extractions: list[Any]) -> Any:
    if len(extractions) == 1:
        return extractions[0]
    from .extract import Extraction

    first = extractions[0]
    return Extraction(
        logits=np.concatenate([e.logits for e in extractions]),
        labels=np.concatenate([e.labels for e in extractions]),
        predictions=np.concatenate([e.predictions for e in extractions]),
        probes={name: np.concatenate([e.probes[name] for e in extractions]) for name in first.probes},
        reductions=first.reductions,
    )
