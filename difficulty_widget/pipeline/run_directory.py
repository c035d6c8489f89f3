"""A run directory: one pass of a model written to disk in parts (``extract_to``), scored later (``analyze_from``).

Layout (format version 1)::

    run_dir/
      manifest.json          what the run is: the model's fingerprint, the data's size and label fingerprint, the
                             probes and their dimensions, the classes, the provenance, the library versions
      probes/<name>.npy      one float32 (N x d) array per probe, all rows in order (memory-mappable .npy)
      parts/part-00000.parquet   per part: id, split, label, prediction, logits (fixed_size_list<float32>[C])
      parts/part-00000.json  written last, when the part is complete: its rows and the CRC-32 of its parquet
                             file and of its rows of every probe file
      structural_similarity.npy  the class template similarity of the model's last linear layer (if it has one)

Rows are the training data then the test data, in order; parts are fixed ranges of ``part_rows`` rows of each.
A part counts as done only once its ``.json`` is written (atomically, by rename), so an interrupted
``extract_to`` continues where it stopped when called again with the same arguments and never recomputes a
finished part. A directory made for another model, other data or other probes is refused with the fields that
differ; a part whose files do not match their checksums is named in the error.
"""

from __future__ import annotations

import hashlib
import json
import os
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd

from ..analysis import Analysis
from ..extract.probes import PENULTIMATE

FORMAT = "difficulty-widget run directory"
VERSION = 1
#: Rows per part by default: a part is the unit that is written, checked and resumed.
DEFAULT_PART_ROWS = 8192
_IDENTITY = ("format", "version", "model_fingerprint", "n_rows", "lengths", "labels_fingerprint", "probes",
             "part_rows")  # fmt: skip


class RunDirectoryError(ValueError):
    """A run directory that is incomplete, corrupt or made by another run (the message names the file)."""


def extract_to(
    run_dir: str | os.PathLike,
    model: Any,
    data: Any,
    test_data: Any = None,
    *,
    probes: str | Sequence[str] | None = "blocks",
    features: str | None = PENULTIMATE,
    max_probe_dim: int | None = 4096,
    train_split: str = "train",
    class_names: Sequence[str] | None = None,
    label_map: Any = None,
    keep_embeddings: str | Sequence[str] | None = PENULTIMATE,
    model_name: str | None = None,
    batch_size: int | None = None,
    memory_budget: int | str | None = None,
    device: str | None = None,
    num_workers: int | None = None,
    image_key: str | None = None,
    label_key: str | None = None,
    part_rows: int = DEFAULT_PART_ROWS,
    engine: Any = None,
    progress: bool = True,
) -> RunDirectory:
    """Run ``model`` once over ``data`` (and ``test_data``) and write what it gives to ``run_dir`` in parts.

    The arguments are those of :func:`~difficulty_widget.analyze` that concern the pass, checked the same way
    before it. The probes' embeddings go to one memory-mappable ``.npy`` per probe, so a run need not fit in
    memory; ``part_rows`` rows are extracted, written and checksummed at a time. Called again on a directory it
    made, it extracts only the parts not yet done (an interrupted run continues); on a directory made by another
    model, other data or other probes it raises :class:`RunDirectoryError` naming what differs. Then
    :func:`analyze_from` computes every measure from the directory.

    ``engine``: ``"local"`` (default: this process) or a
    :class:`~difficulty_widget.pipeline.distributed.RayExecutor` (or ``"ray"`` for one with its defaults): the
    parts' rows are then extracted by a Ray Data pipeline on its cluster, one forward batch per Ray task, and
    written here as they arrive; the files are the same, bit for bit.

    Example::

        run = dw.extract_to("runs/resnet50-imagenet", model, train_folder, val_folder, device="cuda")
        analysis = dw.analyze_from("runs/resnet50-imagenet")
    """
    import torch

    from .._version import __version__
    from .distributed import as_executor
    from .scoring import _structural_similarity, prepare_run

    if not isinstance(part_rows, int | np.integer) or part_rows < 1:
        raise ValueError(f"part_rows must be a positive integer, got {part_rows!r}")
    run = prepare_run(
        model, data, test_data, probes=probes, features=features, train_split=train_split,
        max_probe_dim=max_probe_dim, class_names=class_names, label_map=label_map, keep_embeddings=keep_embeddings,
        model_name=model_name, batch_size=batch_size, memory_budget=memory_budget, device=device,
        image_key=image_key, label_key=label_key, progress=progress,
    )  # fmt: skip
    n = sum(run.lengths)
    dims = run.plan.dims()
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "model_fingerprint": model_fingerprint(model),
        "n_rows": n,
        "lengths": run.lengths,
        "labels_fingerprint": _labels_fingerprint(run.parts),
        "probes": dims,
        "part_rows": int(part_rows),
        "n_classes": run.plan.n_classes,
        "class_names": run.class_names,
        "wnids": None if run.wnids is None else [str(w) for w in run.wnids],
        "depth_probes": list(run.plan.requested),
        "features_probe": run.plan.features,
        "kept": run.kept,
        "train_split": train_split,
        "has_split": run.split is not None,
        "info": run.info,
        "versions": {"difficulty_widget": __version__, "torch": torch.__version__, "numpy": np.__version__},
    }
    root = Path(run_dir)
    (root / "parts").mkdir(parents=True, exist_ok=True)
    (root / "probes").mkdir(exist_ok=True)
    path = root / "manifest.json"
    if path.exists():
        _check_same_run(_read_json(path), manifest, path)
    else:
        _write_json(path, manifest)
    arrays = {name: _open_probe(root, name, n, d) for name, d in dims.items()}
    structural = _structural_similarity(model, run.plan.n_classes)
    if structural is not None and not (root / "structural_similarity.npy").exists():
        np.save(root / "structural_similarity.npy", structural)
    directory = RunDirectory(root)
    todo = [part for part in directory.parts() if not part.done]
    ids = np.arange(n) if run.ids is None else np.asarray(run.ids)
    split = None if run.split is None else np.asarray(run.split).astype(str)
    executor = as_executor(engine)
    try:
        if executor.name == "local":
            _extract_here(model, run, todo, arrays, ids, split, num_workers, progress)
        else:
            _extract_on_ray(executor, model, run, todo, arrays, ids, split, progress)
    finally:
        if isinstance(engine, str):  # made here: stopped here
            executor.close()
    return directory


def _extract_here(model: Any, run: Any, todo: list[Part], arrays: dict[str, np.memmap], ids: np.ndarray,
                  split: np.ndarray | None, num_workers: int | None, progress: bool) -> None:  # fmt: skip
    """Extract the parts ``todo`` in this process, one after another."""
    from tqdm.auto import tqdm

    from ..extract import extract

    bar = tqdm(todo, desc="extract_to", unit="part", disable=not progress or not todo)
    for part in bar:
        rows = rows_of(run.parts[part.data_part], part.local_start, part.local_stop)
        ex = extract(model, rows, plan=run.plan, device=run.device, num_workers=num_workers,
                     label_map=run.label_map, progress=False)  # fmt: skip
        for name, array in arrays.items():
            array[part.start : part.stop] = ex.probes[name]
        _finish_part(part, arrays, ids, split, ex.labels, ex.predictions, ex.logits, ex.reductions)
    bar.close()


def _extract_on_ray(executor: Any, model: Any, run: Any, todo: list[Part], arrays: dict[str, np.memmap],
                    ids: np.ndarray, split: np.ndarray | None, progress: bool) -> None:  # fmt: skip
    """Extract the parts ``todo`` on a Ray cluster (:func:`~difficulty_widget.pipeline.distributed.ray_extract_rows`),
    one forward batch per chunk, aligned to the parts' starts as :func:`_extract_here` runs them; a part is
    written once all its rows have come back."""
    from tqdm.auto import tqdm

    from .distributed import ray_extract_rows

    step = run.plan.batch_size
    chunks = [(part.start + lo - part.local_start, part.data_part, lo, min(part.local_stop, lo + step))
              for part in todo for lo in range(part.local_start, part.local_stop, step)]  # fmt: skip
    n_classes = run.plan.n_classes
    open_parts = {part.start: _Pending(part, n_classes) for part in todo}
    starts = np.array(sorted(open_parts))
    reductions = {spec.name: spec.describe(run.plan.max_probe_dim) for spec in run.plan.probes}
    bar = tqdm(total=sum(p.stop - p.start for p in todo), desc="extract_to (ray)", unit="img", disable=not progress)
    for out in ray_extract_rows(executor, model, run.plan, chunks, run.parts, label_map=run.label_map, progress=False):
        rows = out["rows"]
        for name, array in arrays.items():
            array[rows] = out["probes"][name]
        owner = starts[np.searchsorted(starts, rows, side="right") - 1]
        for start in np.unique(owner):
            pending, mine = open_parts[int(start)], owner == start
            pending.add(rows[mine], out["labels"][mine], out["predictions"][mine], out["logits"][mine])
            if pending.left == 0:
                part = pending.part
                _finish_part(part, arrays, ids, split, pending.labels, pending.predictions, pending.logits,
                             reductions)  # fmt: skip
                del open_parts[int(start)]
        bar.update(len(rows))
    bar.close()
    if open_parts:
        names = ", ".join(p.part.name for p in open_parts.values())
        raise RunDirectoryError(f"the Ray extraction ended with parts not complete: {names}")


class _Pending:
    """The rows of one part received so far (Ray extraction)."""

    def __init__(self, part: Part, n_classes: int):
        n = part.stop - part.start
        self.part, self.left = part, n
        self.labels = np.empty(n, dtype=np.int64)
        self.predictions = np.empty(n, dtype=np.int64)
        self.logits = np.empty((n, n_classes), dtype=np.float32)
        self.seen = np.zeros(n, dtype=bool)

    def add(self, rows: np.ndarray, labels: np.ndarray, predictions: np.ndarray, logits: np.ndarray) -> None:
        local = rows - self.part.start
        if self.seen[local].any():
            raise RunDirectoryError(f"{self.part.name}: rows came back twice from the Ray extraction")
        self.seen[local] = True
        self.labels[local], self.predictions[local], self.logits[local] = labels, predictions, logits
        self.left -= len(local)


def _finish_part(
    part: Part,
    arrays: dict[str, np.memmap],
    ids: np.ndarray,
    split: np.ndarray | None,
    labels: np.ndarray,
    predictions: np.ndarray,
    logits: np.ndarray,
    reductions: dict,
) -> None:
    """Write a part whose probe rows are in ``arrays``: flush them, its parquet file, then its record (last)."""
    for array in arrays.values():
        array.flush()
    table = {"id": ids[part.start : part.stop], "label": labels, "prediction": predictions}
    if split is not None:
        table["split"] = split[part.start : part.stop]
    _write_rows(part.parquet, table, logits)
    record = {
        "rows": [part.start, part.stop],
        "parquet_crc32": _file_crc32(part.parquet),
        "probe_crc32": {name: _crc32(array[part.start : part.stop]) for name, array in arrays.items()},
        "reductions": {name: _jsonable(r) for name, r in reductions.items()},
    }
    _write_json(part.record, record)


def analyze_from(
    run_dir: str | os.PathLike,
    *,
    support: str | None = None,
    logits_per_epoch: Any = None,
    pred_probs: Any = None,
    hierarchy: Any = None,
    keep_embeddings: str | Sequence[str] | None = None,
    provenance: Mapping[str, Any] | None = None,
    device: str | None = None,
    precision: str = "auto",
    memory_budget: int | str | None = None,
    engine: Any = None,
    verify: bool = True,
    progress: bool = True,
) -> Analysis:
    """Every measure of :func:`~difficulty_widget.analyze` from a run directory made by :func:`extract_to`: the
    same :class:`~difficulty_widget.Analysis` that ``analyze`` returns on the same model and data.

    ``support`` is a ``pandas`` query over the rows' ``id``, ``split``, ``label`` and ``prediction`` that selects
    the training rows, the support set of the neighbour-based measures (default: as ``analyze``, the rows of the
    run's ``train_split`` when there are any, else every row). ``keep_embeddings`` (default: what the run was
    made with) are memory-mapped, not loaded. ``verify`` checks every part's checksums first (one read of the
    directory). ``logits_per_epoch``, ``pred_probs``, ``hierarchy``, ``provenance``, ``device`` and ``precision``
    are those of ``analyze``. ``memory_budget`` (bytes, or a string such as ``"4GiB"``) bounds the exact k-NN
    searches: each probe's support set is read from its memory-mapped file in row blocks that fit it, with the same
    results (default: the support rows are read into memory, as ``analyze`` holds them). ``engine``: where the k-NN
    searches run: ``"local"`` (default, this process) or a
    :class:`~difficulty_widget.pipeline.distributed.RayExecutor` (``"ray"``: one with its defaults), whose actors
    read the probes' files; the result is the same.

    Example::

        from difficulty_widget.pipeline.distributed import RayExecutor

        with RayExecutor(address="auto", workers=8) as ray_engine:
            analysis = dw.analyze_from("runs/resnet50-imagenet", engine=ray_engine)
    """
    from ..measures.knn import check_precision
    from .distributed import as_executor

    check_precision(precision)
    executor = as_executor(engine, memory_budget)  # checked (and a cluster joined) before any reading
    try:
        return _analyze_directory(
            RunDirectory(Path(run_dir)), support=support, logits_per_epoch=logits_per_epoch, pred_probs=pred_probs,
            hierarchy=hierarchy,
            keep_embeddings=keep_embeddings, provenance=provenance, device=device, precision=precision,
            memory_budget=memory_budget, search=None if executor.name == "local" else executor.nearest_neighbours,
            verify=verify, progress=progress,
        )  # fmt: skip
    finally:
        if isinstance(engine, str):
            executor.close()


def _analyze_directory(
    directory: RunDirectory, *, support: str | None, logits_per_epoch: Any, pred_probs: Any, hierarchy: Any,
    keep_embeddings: Any, provenance: Mapping[str, Any] | None, device: str | None, precision: str,
    memory_budget: int | str | None, search: Any, verify: bool, progress: bool,
) -> Analysis:  # fmt: skip
    """:func:`analyze_from` on an opened directory with its k-NN engine ``search`` (None: in this process)."""
    import torch

    from ..extract import Extraction
    from .scoring import PreparedRun, finish_run

    manifest = directory.manifest
    missing = [part.name for part in directory.parts() if not part.done]
    if missing:
        raise RunDirectoryError(
            f"{directory.path} is incomplete: {len(missing)} of {len(directory.parts())} parts are not done "
            f"({', '.join(missing[:5])}{', ...' if len(missing) > 5 else ''}); run extract_to again to finish it"
        )
    if verify:
        directory.verify()
    rows, logits = directory.rows()
    probes = {name: directory.probe(name) for name in manifest["probes"]}
    first = _read_json(directory.parts()[0].record)
    reductions = {name: _from_json_reduction(r) for name, r in first["reductions"].items()}
    extraction = Extraction(
        logits=logits, labels=rows["label"].to_numpy(np.int64), predictions=rows["prediction"].to_numpy(np.int64),
        probes=probes, reductions=reductions,
    )  # fmt: skip
    split = rows["split"].to_numpy(dtype=object) if manifest["has_split"] else None
    train_split = manifest["train_split"]
    if support is None:
        support_mask = None if split is None or not (split == train_split).any() else split == train_split
        training_rows = None
    else:
        support_mask = _support_mask(rows, support)
        training_rows = support
    kept = manifest["kept"] if keep_embeddings is None else _kept(keep_embeddings, manifest)
    plan = SimpleNamespace(
        requested=manifest["depth_probes"], features=manifest["features_probe"], n_classes=manifest["n_classes"]
    )
    dev = torch.device(device) if device is not None else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    run = PreparedRun(
        parts=[], lengths=manifest["lengths"], ids=rows["id"].to_numpy(), split=split, wnids=manifest["wnids"],
        support_mask=support_mask, train_split=train_split, plan=plan, class_names=manifest["class_names"],
        label_map=None, device=dev, kept=kept, info=dict(manifest["info"]), training_rows=training_rows,
    )  # fmt: skip
    structural_path = directory.path / "structural_similarity.npy"
    structural = np.load(structural_path) if structural_path.exists() else None
    return finish_run(
        run, extraction, structural, logits_per_epoch=logits_per_epoch, pred_probs=pred_probs, hierarchy=hierarchy,
        provenance=provenance,
        precision=precision, knn_memory_budget=memory_budget, knn_search=search, progress=progress,
    )  # fmt: skip


@dataclass
class Part:
    """One part of a run: global rows ``start:stop``, rows ``local_start:local_stop`` of data part ``data_part``
    (0: training data, 1: test data), and its files."""

    name: str
    start: int
    stop: int
    data_part: int
    local_start: int
    local_stop: int
    parquet: Path
    record: Path

    @property
    def done(self) -> bool:
        return self.record.exists()


@dataclass
class RunDirectory:
    """A run directory on disk (see the module docstring): its ``manifest``, parts, rows and probe arrays."""

    path: Path

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        manifest = self.path / "manifest.json"
        if not manifest.exists():
            raise RunDirectoryError(f"{self.path} is not a run directory: {manifest} is missing (make one with "
                                    "extract_to)")  # fmt: skip
        self.manifest = _read_json(manifest)
        if self.manifest.get("format") != FORMAT or self.manifest.get("version") != VERSION:
            raise RunDirectoryError(f"{manifest} is not a {FORMAT} of version {VERSION}")

    def parts(self) -> list[Part]:
        """The parts in row order."""
        out, offset = [], 0
        step = self.manifest["part_rows"]
        for data_part, length in enumerate(self.manifest["lengths"]):
            for local in range(0, length, step):
                stop = min(length, local + step)
                name = f"part-{len(out):05d}"
                folder = self.path / "parts"
                out.append(Part(name, offset + local, offset + stop, data_part, local, stop,
                                folder / f"{name}.parquet", folder / f"{name}.json"))  # fmt: skip
            offset += length
        return out

    @property
    def complete(self) -> bool:
        return all(part.done for part in self.parts())

    def probe(self, name: str) -> np.ndarray:
        """The (N x d) float32 embeddings of probe ``name``, memory-mapped read-only."""
        if name not in self.manifest["probes"]:
            raise ValueError(f"probe {name!r} is not in this run; its probes are {list(self.manifest['probes'])}")
        path = self.path / "probes" / f"{name}.npy"
        try:
            array = np.load(path, mmap_mode="r")
        except (OSError, ValueError) as exc:
            raise RunDirectoryError(f"{path} cannot be read as a .npy array: {exc}") from exc
        expected = (self.manifest["n_rows"], self.manifest["probes"][name])
        if array.shape != expected or array.dtype != np.float32:
            raise RunDirectoryError(f"{path} holds {array.dtype} {array.shape}, expected float32 {expected}")
        return array

    def rows(self) -> tuple[pd.DataFrame, np.ndarray]:
        """The rows table (``id``, ``label``, ``prediction``, ``split`` when the run has one) and the (N x C)
        float32 logits, from every part in order."""
        import pyarrow.parquet as pq

        frames, logits = [], []
        for part in self.parts():
            try:
                table = pq.read_table(part.parquet)
            except Exception as exc:  # pyarrow raises several kinds for a damaged file
                raise RunDirectoryError(f"{part.parquet} ({part.name}) cannot be read: {exc}") from exc
            column = table.column("logits").combine_chunks()
            logits.append(column.values.to_numpy().reshape(len(table), -1))
            frames.append(table.drop(["logits"]).to_pandas())
        return pd.concat(frames, ignore_index=True), np.concatenate(logits).astype(np.float32, copy=False)

    def verify(self) -> None:
        """Check every done part's files against its checksums; a :class:`RunDirectoryError` names the first
        part and file that do not match."""
        arrays = {name: self.probe(name) for name in self.manifest["probes"]}
        for part in self.parts():
            if not part.done:
                continue
            record = _read_json(part.record)
            if record.get("rows") != [part.start, part.stop]:
                raise RunDirectoryError(f"{part.record} ({part.name}) describes rows {record.get('rows')}, expected "
                                        f"{[part.start, part.stop]}")  # fmt: skip
            if not part.parquet.exists() or _file_crc32(part.parquet) != record["parquet_crc32"]:
                raise RunDirectoryError(f"{part.parquet} ({part.name}) is missing or does not match its checksum")
            for name, array in arrays.items():
                if _crc32(array[part.start : part.stop]) != record["probe_crc32"].get(name):
                    path = self.path / "probes" / f"{name}.npy"
                    raise RunDirectoryError(
                        f"{path}: rows {part.start}:{part.stop} ({part.name}) do not match their checksum; delete "
                        f"{part.record.name} and run extract_to again to recompute the part"
                    )


def model_fingerprint(model: Any) -> str:
    """SHA-256 of a module's state (names, dtypes, shapes and values of its ``state_dict``)."""
    import torch

    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        value = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{value.dtype}:{tuple(value.shape)};".encode())
        if value.numel():
            digest.update(value.view(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _labels_fingerprint(parts: list[Any]) -> str | None:
    """SHA-256 of the data parts' labels, read without loading images (None when a part does not expose them)."""
    from ..data.datasets import targets_of
    from ..data.images import ImageData

    digest = hashlib.sha256()
    for part in parts:
        labels = part.labels if isinstance(part, ImageData) else targets_of(part)
        if labels is None:
            return None
        digest.update(np.ascontiguousarray(labels, dtype=np.int64).tobytes())
    return digest.hexdigest()


def rows_of(part: Any, start: int, stop: int) -> Any:
    """Rows ``start:stop`` of one data part, in a form :func:`~difficulty_widget.extract.extract` takes."""
    from torch.utils.data import DataLoader, Dataset, Subset

    from ..data.images import ImageData

    if isinstance(part, ImageData):
        return part.subset(np.arange(start, stop))
    if isinstance(part, tuple | list) and len(part) == 2:
        return part[0][start:stop], part[1][start:stop]
    if isinstance(part, DataLoader):
        part = part.dataset
    if isinstance(part, Dataset) and hasattr(part, "__len__"):
        return Subset(part, range(start, stop))
    raise ValueError(f"extract_to needs data it can index by row (a Dataset, ImageData or arrays), got {type(part)}")


def _open_probe(root: Path, name: str, n: int, d: int) -> np.memmap:
    """The probe's .npy file, created (N x d float32) or reopened for writing."""
    path = root / "probes" / f"{name}.npy"
    if path.exists():
        array = np.lib.format.open_memmap(path, mode="r+")
        if array.shape != (n, d) or array.dtype != np.float32:
            raise RunDirectoryError(f"{path} holds {array.dtype} {array.shape}, expected float32 {(n, d)}")
        return array
    return np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, d))


def _write_rows(path: Path, columns: dict[str, np.ndarray], logits: np.ndarray) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrays = {name: pa.array(values) for name, values in columns.items()}
    flat = pa.array(np.ascontiguousarray(logits, dtype=np.float32).reshape(-1))
    arrays["logits"] = pa.FixedSizeListArray.from_arrays(flat, logits.shape[1])
    tmp = path.with_suffix(".parquet.tmp")
    pq.write_table(pa.table(arrays), tmp)
    os.replace(tmp, path)


def _crc32(array: np.ndarray) -> int:
    """CRC-32 of an array's bytes, in blocks of 64 MB."""
    value, step = 0, max(1, 2**26 // max(1, array.strides[0] if array.ndim else 1))
    for i in range(0, len(array), step):
        value = zlib.crc32(np.ascontiguousarray(array[i : i + step]).tobytes(), value)
    return value


def _file_crc32(path: Path) -> int:
    value = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(2**24):
            value = zlib.crc32(chunk, value)
    return value


def _check_same_run(stored: dict, wanted: dict, path: Path) -> None:
    differ = [key for key in _IDENTITY if stored.get(key) != _jsonable(wanted.get(key))]
    if differ:
        details = "; ".join(f"{key}: {stored.get(key)!r} here, {_jsonable(wanted.get(key))!r} now" for key in differ)
        raise RunDirectoryError(
            f"{path} belongs to another run ({', '.join(differ)} differ: {details[:600]}); use a new run_dir or "
            "delete this one"
        )


def _support_mask(rows: pd.DataFrame, support: str) -> np.ndarray:
    try:
        mask = np.asarray(rows.eval(support), dtype=object)
    except Exception as exc:  # pandas raises many kinds for a bad expression
        raise ValueError(f"support={support!r} is not a query over {list(rows.columns)}: {exc}") from exc
    if mask.shape != (len(rows),) or not all(isinstance(v, bool | np.bool_) for v in mask[:1]):
        raise ValueError(f"support={support!r} must give one True/False per row")
    mask = mask.astype(bool)
    if mask.sum() < 2:
        raise ValueError(f"support={support!r} selects {int(mask.sum())} rows; the neighbour measures need two")
    return mask


def _kept(keep: str | Sequence[str], manifest: dict) -> dict[str, str]:
    names = [keep] if isinstance(keep, str) else list(keep)
    out = {}
    for name in names:
        if name == PENULTIMATE and manifest["features_probe"] is not None:
            out[name] = manifest["features_probe"]
        elif name in manifest["probes"]:
            out[name] = name
        else:
            raise ValueError(f"keep_embeddings: probe {name!r} is not in this run; its probes are "
                             f"{list(manifest['probes'])}")  # fmt: skip
    return out


def _jsonable(value: Any) -> Any:
    """``value`` as it comes back from JSON (tuples as lists, numpy scalars as Python numbers)."""
    return json.loads(json.dumps(value, default=_json_default))


def _json_default(value: Any) -> Any:
    if isinstance(value, np.integer | np.floating | np.bool_):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def _from_json_reduction(reduction: dict) -> dict:
    """A probe's reduction record with its shapes as tuples again (as :func:`extract` gives them)."""
    return {key: tuple(value) if isinstance(value, list) else value for key, value in reduction.items()}


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise RunDirectoryError(f"{path} cannot be read: {exc}") from exc


def _write_json(path: Path, value: Any) -> None:
    """Written to a temporary file and renamed: the file is either absent or complete."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(value, indent=1, default=_json_default))
    os.replace(tmp, path)
