"""``analyze``: from a model and data to an Analysis, computing every measure the inputs allow."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..analysis import Analysis
from ..data.images import ImageData
from ..measures import registry
from ..measures.depth import depth_flow, depth_scores
from ..measures.flow import layer_tables
from ..measures.knn import check_precision
from ..measures.search import ReusedSearch, in_process_search

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
    pred_probs: Any = None,
    pixel_hashes: Any = None,
    input_gradients: Any = None,
    structural_similarity: Any = None,
    hierarchy: Any = None,
    device: str | None = None,
    precision: str = "auto",
    knn_memory_budget: int | str | None = None,
    knn_search: Any = None,
    progress: bool = False,
) -> Analysis:
    """Score an :class:`~difficulty_widget.extract.Extraction` with every measure its contents allow.

    Logits and labels give the model-perspective scores; ``depth_probes`` (names of extracted probes, in network
    order) give prediction depth; ``features_probe`` (one extracted probe, usually the penultimate layer) gives
    the data-perspective scores; ``logits_per_epoch`` (E x N_train x C, the training rows in order) gives the
    training dynamics (``device``: where the k-NN searches run; ``precision``: of their candidate searches, see
    :func:`~difficulty_widget.measures.knn.nearest_neighbours`, the scores are the same for each;
    ``knn_memory_budget``: read their support sets in row blocks that fit it, for probes memory-mapped from disk;
    ``knn_search``: the engine of those searches, a :data:`~difficulty_widget.measures.search.KnnSearch` such as
    ``RayExecutor(...).nearest_neighbours``, default in-process; a search that repeats an earlier one, such as
    the data scores' and the label-issue flag's, is answered once: :class:`~difficulty_widget.measures.search.
    ReusedSearch`). ``pred_probs`` (N_train x C, out-of-sample class probabilities of the training rows from
    cross-validation, when the user has them) replace the one-run probabilities of the label-issue flag
    (:func:`~difficulty_widget.measures.label_issues.label_issue_scores`). ``pixel_hashes`` (one per row,
    :func:`~difficulty_widget.measures.data_quality.pixel_hashes`) give the exact duplicates of the data-quality
    columns. ``input_gradients`` (the training rows' input gradients at checkpoints, as recorded by
    ``DynamicsRecorder(data, input_gradients=True)``) give VoG. ``support_mask`` marks the training rows that
    neighbour-based measures compare against (every row when ``None``). A C x C ``structural_similarity``
    (template cosine) and a class ``hierarchy`` give the semantic error columns.

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
    if device is not None:
        inputs["device"] = device
    if precision != "auto":
        inputs["precision"] = check_precision(precision)
    if knn_memory_budget is not None:
        inputs["memory_budget"] = knn_memory_budget
    # the data scores and the label-issue flag search the same neighbours: one search answers both
    inputs["search"] = ReusedSearch(knn_search if knn_search is not None else in_process_search(knn_memory_budget))
    if support_mask is not None:
        inputs["support_mask"] = np.asarray(support_mask, dtype=bool)
    if ids is not None:
        inputs["ids"] = np.asarray(ids)
    if pixel_hashes is not None:
        inputs["pixel_hashes"] = np.asarray(pixel_hashes)
    if input_gradients is not None:
        from ..preflight import check_input_gradients

        n_train = n if support_mask is None else int(np.count_nonzero(support_mask))
        inputs["input_gradients"] = check_input_gradients(input_gradients, n_train)
    if depth_probes:
        inputs["probes"] = [_probe(extraction, name) for name in depth_probes]
    if features_probe is not None:
        inputs["features"] = _probe(extraction, features_probe)
    if logits_per_epoch is not None:
        inputs["logits_per_epoch"] = _check_logits_per_epoch(logits_per_epoch, support_mask, n, extraction)
    if pred_probs is not None:
        from ..preflight import check_pred_probs

        n_train = n if support_mask is None else int(np.count_nonzero(support_mask))
        inputs["pred_probs"] = check_pred_probs(pred_probs, n_train, extraction.logits.shape[1])
    if structural_similarity is not None:
        inputs["structural_similarity"] = structural_similarity
    if hierarchy is not None:
        inputs["hierarchy"] = hierarchy
    flow = None
    if depth_probes:  # depth with its flow data in one pass; the registry reuses its columns
        flow = depth_flow(
            inputs["probes"], extraction.labels, extraction.predictions, support_mask=inputs.get("support_mask"),
            progress=progress, device=device, precision=precision, memory_budget=knn_memory_budget,
            search=knn_search,
        )  # fmt: skip
    scores = registry.compute_available(inputs, precomputed=None if flow is None else {depth_scores: flow.frame})
    if "grand_last_layer" in scores and not _is_head_input(extraction, features_probe):
        scores = scores.drop(columns="grand_last_layer")  # exact only on the final linear layer's own input
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
    from ..preflight import check_logits_per_epoch

    n_train = n if support_mask is None else int(np.count_nonzero(support_mask))
    return check_logits_per_epoch(logits_per_epoch, n_train, extraction.logits.shape[1])


def analyze(
    model: Any,
    data: Any,
    test_data: Any = None,
    *,
    probes: str | Sequence[str] | None = "blocks",
    features: str | None = PENULTIMATE,
    logits_per_epoch: Any = None,
    pred_probs: Any = None,
    input_gradients: Any = None,
    train_split: str = "train",
    hierarchy: Any = None,
    max_probe_dim: int | None = 4096,
    class_names: Sequence[str] | None = None,
    label_map: Any = None,
    keep_embeddings: str | Sequence[str] | None = PENULTIMATE,
    model_name: str | None = None,
    provenance: Mapping[str, Any] | None = None,
    batch_size: int | None = None,
    memory_budget: int | str | None = None,
    device: str | None = None,
    num_workers: int | None = None,
    precision: str = "auto",
    image_key: str | None = None,
    label_key: str | None = None,
    progress: bool = True,
) -> Analysis:
    """Run ``model`` over the data once and return an :class:`Analysis` with every measure that applies.

    Parameters
    ----------
    model : a torch classifier returning logits (torchvision, timm, or your own ``nn.Module``).
    data : the instances to score: anything :func:`~difficulty_widget.extract.extract` accepts (an
        :class:`~difficulty_widget.data.ImageData`, a torch ``Dataset`` such as ``ImageFolder``, a ``Subset``,
        ``ConcatDataset`` or unshuffled ``DataLoader`` of one, a dataset of dicts, a pair of arrays). With an
        ``ImageData``, ids, splits, class names and wnids come from it; with a torch dataset, class names come from
        its ``classes`` (through ``Subset`` / ``ConcatDataset`` / ``DataLoader`` too).
    test_data : optional held-out instances; then ``data`` is the training set (split ``"train"``) and these
        rows get split ``"test"``. Without it, the rows of ``data`` whose split is ``train_split`` are the
        training set, or every row when none is.
    probes : the layers for prediction depth: ``"blocks"`` (default: the input, the stem, every block of the
        architecture, the penultimate features, the logits; see :mod:`~difficulty_widget.extract.probes`),
        ``"top-level"`` (every top-level child), a list of names from ``model.named_modules()`` plus
        ``"input"``, ``"stem"``, ``"penultimate"``, ``"logits"``, or ``None`` for no depth. The chosen probes,
        their shapes and pooling are printed before the pass and recorded in the provenance. Embeddings larger
        than ``max_probe_dim`` are average-pooled inside the module's hook.
    features : the probe whose embedding feeds the data-perspective scores (k-NN agreement, centroid distance,
        density); ``"penultimate"`` is the input of the final linear layer; ``None`` skips them.
    logits_per_epoch : training dynamics: an (E x N_train x C) array of the training rows' logits per epoch
        (E >= 2), a :class:`~difficulty_widget.extract.DynamicsRecorder` or a ``TrainingResult`` with recorded
        logits.
    pred_probs : out-of-sample class probabilities of the training rows (N_train x C, rows summing to 1), from
        cross-validation when you have them: the label-issue flag then runs confident learning on them instead of
        the one-run probabilities (k-NN class shares and the softmax over epochs; see
        :mod:`~difficulty_widget.measures.label_issues`). Checked before the pass.
    input_gradients : VoG's input gradients of the training rows at checkpoints (a ``GradientVariance``, or a
        recorder / training result that recorded them: ``train_model(..., record_input_gradients=True)``); by
        default taken from ``logits_per_epoch`` when it recorded them. Checked before the pass.
    hierarchy : a :class:`~difficulty_widget.semantics.Hierarchy` over the classes (e.g. ``WordNetHierarchy``) for
        ``error_semantic_depth``. ``error_similarity_rank`` comes from the model's own last linear layer (class
        templates) whenever it has one.
    class_names, label_map : one name per model output; ``label_map`` maps the data's labels to the model's
        class indices when they differ. An ``ImageFolder`` of ImageNet wnid folders with a 1000-class model is
        remapped to ImageNet's class order automatically (names and wnids from ImageNet).
    keep_embeddings : probes whose embeddings stay in ``analysis.embeddings`` (``"penultimate"``, the default, keeps
        the features probe under that key, when ``features`` is set: the Explorer's instance view finds neighbours
        in it); None keeps none.
    batch_size, memory_budget : images per forward pass, by default as many as fit ``memory_budget`` (768 MiB of
        activations; see :func:`~difficulty_widget.extract.plan.plan_extraction`).
    device, num_workers : where the model and every k-NN search run (default: the model's device, or CUDA when
        available); DataLoader workers (default: 4 on CUDA with pinned memory, else 0).
    precision : of the exact k-NN searches' candidate products: ``"auto"`` (default: bfloat16 where the device
        multiplies it fast and the bound proves enough rows, else float32), ``"bf16"``, ``"fp32"``, ``"fp64"``.
        Every score is the same for each (see :func:`~difficulty_widget.measures.knn.nearest_neighbours`).
    image_key, label_key : the keys of datasets that yield dicts (detected when left out).

    Every argument is checked before the pass, on one traced batch: probe names, the class names against the
    model's outputs, the dataset's labels (when it exposes them), the training dynamics' shape.

    Neighbour-based scores compare every row with the training rows (k = 30; a training row never counts as
    its own neighbour); training dynamics fill the training rows and leave the others missing. With prediction
    depth, ``analysis.tables`` holds the layer-wise flow data ``layer_agreement`` and ``layer_vote_matches``
    (see :func:`analysis_from_extraction`).
    """
    from ..extract import extract

    if input_gradients is None and getattr(logits_per_epoch, "input_gradients", None) is not None:
        input_gradients = logits_per_epoch  # a recorder or training result that recorded them
    run = prepare_run(
        model, data, test_data, probes=probes, features=features, logits_per_epoch=logits_per_epoch,
        pred_probs=pred_probs, train_split=train_split, max_probe_dim=max_probe_dim, class_names=class_names,
        label_map=label_map, keep_embeddings=keep_embeddings, model_name=model_name, batch_size=batch_size,
        memory_budget=memory_budget, device=device, image_key=image_key, label_key=label_key, precision=precision,
        input_gradients=input_gradients, progress=progress,
    )  # fmt: skip
    kwargs = {"plan": run.plan, "device": run.device, "num_workers": num_workers, "label_map": run.label_map}
    extractions = [extract(model, part, progress=progress, **kwargs) for part in run.parts]
    structural = _structural_similarity(model, run.plan.n_classes)
    return finish_run(
        run, _concatenate(extractions), structural, logits_per_epoch=logits_per_epoch, pred_probs=pred_probs,
        input_gradients=input_gradients, hierarchy=hierarchy, provenance=provenance, precision=precision,
        progress=progress,
    )  # fmt: skip


@dataclass
class PreparedRun:
    """What :func:`analyze` knows before the pass: the data parts (training, then test), their row counts, ids,
    splits and wnids, the training rows, the extraction plan, the classes and label map, the device, the
    embeddings to keep and the provenance so far."""

    parts: list[Any]
    lengths: list[int]
    ids: Any
    split: Any
    wnids: Any
    support_mask: np.ndarray | None
    train_split: str
    plan: Any
    class_names: list[str]
    label_map: Any
    device: Any
    kept: dict[str, str]
    info: dict[str, Any]
    training_rows: str | None = None  # how the training rows were chosen, when not by the split
    pixel_hashes: np.ndarray | None = None  # one per row, when the pixels are at hand (ImageData)


def prepare_run(
    model: Any,
    data: Any,
    test_data: Any = None,
    *,
    probes: str | Sequence[str] | None = "blocks",
    features: str | None = PENULTIMATE,
    logits_per_epoch: Any = None,
    pred_probs: Any = None,
    train_split: str = "train",
    max_probe_dim: int | None = 4096,
    class_names: Sequence[str] | None = None,
    label_map: Any = None,
    keep_embeddings: str | Sequence[str] | None = PENULTIMATE,
    model_name: str | None = None,
    batch_size: int | None = None,
    memory_budget: int | str | None = None,
    device: str | None = None,
    image_key: str | None = None,
    label_key: str | None = None,
    precision: str = "auto",
    input_gradients: Any = None,
    progress: bool = True,
) -> PreparedRun:
    """Every check of :func:`analyze` before its pass, on one traced batch, and the plan of the pass (the same
    arguments; also used by :func:`~difficulty_widget.pipeline.extract_to`)."""
    from ..data.datasets import as_pairs, class_names_of, targets_of
    from ..extract.extraction import pick_device
    from ..extract.plan import first_batch, plan_extraction
    from ..preflight import (
        check_input_gradients,
        check_label_map,
        check_logits_per_epoch,
        check_pred_probs,
        check_targets,
        plan_classes,
    )

    info: dict[str, Any] = {"model": model_name or type(model).__name__}
    ids = split = wnids = None
    combined = _combine(data, test_data)
    parts = [combined] if isinstance(combined, ImageData) else [p for p in (data, test_data) if p is not None]
    parts = [p if isinstance(p, ImageData) else as_pairs(p, image_key=image_key, label_key=label_key) for p in parts]
    lengths = [len(p) for p in parts]
    if isinstance(combined, ImageData):
        split = combined.split
    elif test_data is not None:
        split = np.repeat(np.array(["train", "test"], dtype=object), lengths)
    support_mask = None
    if split is not None and (np.asarray(split) == train_split).any():
        support_mask = np.asarray(split) == train_split
    n_train = sum(lengths) if support_mask is None else int(support_mask.sum())
    if logits_per_epoch is not None:
        check_logits_per_epoch(logits_per_epoch, n_train)
    if pred_probs is not None:
        check_pred_probs(pred_probs, n_train)
    if input_gradients is not None:
        check_input_gradients(input_gradients, n_train)
    check_precision(precision)

    dev = pick_device(model, device)
    plan = plan_extraction(
        model, parts[0], probes=probes, max_probe_dim=max_probe_dim, batch_size=batch_size,
        memory_budget=memory_budget, device=dev, features=features,
    )  # fmt: skip
    for part in parts[1:]:
        shape = tuple(first_batch(part)[0].shape[1:])
        if shape != plan.input_shape:
            raise ValueError(
                f"test_data's images are {shape} but data's are {plan.input_shape}: use the same transform"
            )
    hashes = None
    if isinstance(combined, ImageData):
        info["dataset"] = combined.name
        ids, wnids = combined.ids, combined.wnids
        if features is not None:
            from ..measures.data_quality import pixel_hashes

            hashes = pixel_hashes(combined.images)
        data_classes = combined.class_names
    else:
        data_classes = class_names_of(data)
    classes = plan_classes(plan.n_classes, class_names, data_classes)
    mapping = classes.label_map if label_map is None else check_label_map(label_map, plan.n_classes)
    for name, part in zip(("data", "test_data"), parts, strict=False):
        targets = part.labels if isinstance(part, ImageData) else targets_of(part)
        check_targets(targets, plan.n_classes, mapping, name)
    if logits_per_epoch is not None:
        check_logits_per_epoch(logits_per_epoch, n_train, plan.n_classes)
    if pred_probs is not None:
        check_pred_probs(pred_probs, n_train, plan.n_classes)
    wnids = classes.wnids if classes.wnids is not None else wnids
    kept = _kept_names(keep_embeddings, plan)
    if progress:
        n_support = n_train if plan.requested else None
        print(plan.summary(sum(lengths), n_support, plan.requested))
        if classes.note:
            print(classes.note)
    if classes.note:
        info["classes"] = classes.note
    return PreparedRun(
        parts=parts, lengths=lengths, ids=ids, split=split, wnids=wnids, support_mask=support_mask,
        train_split=train_split, plan=plan, class_names=list(classes.names), label_map=mapping, device=dev,
        kept=kept, info=info, pixel_hashes=hashes,
    )  # fmt: skip


def _is_head_input(extraction: Any, probe: str | None) -> bool:
    """Whether ``probe`` holds the final linear layer's input unpooled (GraNd's closed form needs exactly it)."""
    return probe == PENULTIMATE and not extraction.reductions.get(probe, {}).get("pooled", False)


def finish_run(
    run: PreparedRun,
    extraction: Any,
    structural: np.ndarray | None,
    *,
    logits_per_epoch: Any = None,
    pred_probs: Any = None,
    input_gradients: Any = None,
    hierarchy: Any = None,
    provenance: Mapping[str, Any] | None = None,
    precision: str = "auto",
    knn_memory_budget: int | str | None = None,
    knn_search: Any = None,
    progress: bool = True,
) -> Analysis:
    """Every measure of :func:`analyze` from the pass's ``extraction`` and the template similarity
    ``structural`` (or None); the embeddings ``run.kept`` stay in ``analysis.embeddings``
    (``knn_memory_budget``, ``knn_search``: see :func:`analysis_from_extraction`)."""
    info = dict(run.info)
    depth_probes, features_probe = run.plan.requested, run.plan.features
    if depth_probes:
        info["depth_probes"] = {p: extraction.reductions[p] for p in depth_probes}
    if features_probe is not None:
        info["features_probe"] = features_probe
    if "classes" in info:
        info["classes"] = info.pop("classes")  # after the probes, as before
    if depth_probes or features_probe is not None or logits_per_epoch is not None:
        chosen = run.training_rows or f"split == {run.train_split!r}"
        info["training_rows"] = chosen if run.support_mask is not None else "all rows"
        info["k"] = 30
        info["knn_precision"] = precision
    if structural is not None:
        info["templates"] = "last linear layer"
    if pred_probs is not None:
        info["label_issue_probabilities"] = "pred_probs (given)"
    info.update(provenance or {})
    analysis = analysis_from_extraction(
        extraction, class_names=run.class_names, ids=run.ids, split=run.split, wnids=run.wnids, provenance=info,
        depth_probes=depth_probes, features_probe=features_probe, support_mask=run.support_mask,
        logits_per_epoch=logits_per_epoch, pred_probs=pred_probs, pixel_hashes=run.pixel_hashes,
        input_gradients=input_gradients, structural_similarity=structural, hierarchy=hierarchy, progress=progress,
        device=None if run.device.type == "cpu" else str(run.device), precision=precision,
        knn_memory_budget=knn_memory_budget, knn_search=knn_search,
    )  # fmt: skip
    analysis.embeddings = {name: extraction.probes[probe] for name, probe in run.kept.items()}
    return analysis


def _kept_names(keep: str | Sequence[str] | None, plan: Any) -> dict[str, str]:
    """Which extracted probe each ``keep_embeddings`` name keeps ("penultimate": the features probe, when there is
    one); checked before the pass."""
    names = [] if keep is None else [keep] if isinstance(keep, str) else list(keep)
    out = {}
    for name in names:
        if name == PENULTIMATE and plan.features is not None:
            out[name] = plan.features
        elif name in plan.probe_names:
            out[name] = name
        elif name != PENULTIMATE:
            raise ValueError(f"keep_embeddings: probe {name!r} is not extracted; the probes are {plan.probe_names}")
    return out


def _structural_similarity(model: Any, n_classes: int) -> np.ndarray | None:
    """Template cosine similarity from the model's last linear layer, or None when it has no usable one."""
    from ..semantics import class_templates, structural_similarity

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
    from ..extract import Extraction

    first = extractions[0]
    return Extraction(
        logits=np.concatenate([e.logits for e in extractions]),
        labels=np.concatenate([e.labels for e in extractions]),
        predictions=np.concatenate([e.predictions for e in extractions]),
        probes={name: np.concatenate([e.probes[name] for e in extractions]) for name in first.probes},
        reductions=first.reductions,
    )
