"""Executors: where the heavy steps of a run happen. :class:`LocalExecutor` (the default) runs them in this
process; :class:`RayExecutor` spreads them over a Ray cluster (``pip install "difficulty-widget[ray]"``), with the
same results. Ray is imported only inside this module's functions: the single-machine path never imports it.

**k-NN** (:meth:`RayExecutor.nearest_neighbours`, a :data:`~difficulty_widget.measures.search.KnnSearch`).
Long-lived actors hold a probe's support set: the whole set in each actor when it fits ``memory_per_worker``
(*replicated*: query blocks go to whichever actor is free), else one contiguous range of support rows per actor
(*sharded*: every query block goes to every shard). An actor runs the in-process exact engine
(:func:`~difficulty_widget.measures.knn_streamed.streamed_nearest_neighbours` within ``memory_per_worker``) on
its rows and returns each query's ``k`` nearest by (float64 distance, global index) with their distances; the
driver merges a query block's shard lists by the same order once every shard has answered. Exact, as the
streamed search is: a point among the first ``k`` of the whole set is among the first ``k`` of its shard, and the
order (distance, global index) is total. A support set memory-mapped from a file (a run directory's probes) is
read by the actors from that file (which every node must see, e.g. a shared file system); an array in memory is
put in Ray's object store once.

**Extraction** (:func:`ray_extract_rows`, used by ``extract_to(..., engine=RayExecutor(...))``): a Ray Data
pipeline of CPU decode tasks (each reads one batch of rows with the dataset's own transforms, exactly as
:func:`~difficulty_widget.extract.extract` would) feeding an actor pool that loads the model once per actor
(``gpus_per_worker`` GPUs each) and returns plain ``pyarrow`` columns: the row, label, prediction, logits and
every probe as ``fixed_size_list<float32>``. Rows arrive in any order and are written to their place.

**Failures.** Actors restart after a crash (``max_restarts``) and Ray runs their unfinished calls again
(``max_task_retries``), so a dead worker's block is recomputed; results are merged only when every part of a
block has come back exactly once; every wait has a timeout (``timeout_s``) whose error names what is stuck.
Before any work the cluster's resources are checked: a pool that would leave no CPU for Ray Data's tasks hangs
silently (ray issue 44687), so it is refused with a message.
"""

from __future__ import annotations

import itertools
import mmap
import os
import time
from collections import deque
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..measures.knn import PRECISIONS, Neighbours, _own_rows, check_precision
from ..measures.knn_streamed import DEFAULT_MEMORY_BUDGET, _parse_budget, _rows_source, streamed_nearest_neighbours

#: seconds a wait for any result may last before it fails, naming what it waits for
DEFAULT_TIMEOUT_S = 600.0
_COUNTERS = ("fallback_rows", "widened_rows", "rechecked_rows", "remeasured_rows", "first_rows")


class LocalExecutor:
    """The in-process engine: the exact k-NN search of :func:`~difficulty_widget.measures.knn.nearest_neighbours`
    (or, with ``memory_budget``, its streamed form), and the extraction of :func:`~difficulty_widget.extract`."""

    name = "local"

    def __init__(self, memory_budget: int | str | None = None):
        self.memory_budget = memory_budget

    def nearest_neighbours(
        self, query: Any, support: Any, k: int, *, exclude_self: Any = False, precision: str = "auto",
        device: Any = None,
    ) -> Neighbours:  # fmt: skip
        """The exact ``k`` nearest support rows of each query (a
        :data:`~difficulty_widget.measures.search.KnnSearch`)."""
        from ..measures.knn import nearest_neighbours

        if self.memory_budget is None:
            return nearest_neighbours(query, support, k, exclude_self=exclude_self, precision=precision, device=device)
        return streamed_nearest_neighbours(query, support, k, exclude_self=exclude_self, precision=precision,
                                           device=device, memory_budget=self.memory_budget)  # fmt: skip

    def close(self) -> None:
        """Nothing to release."""

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class RayExecutor:
    """Runs the exact k-NN searches (and, through ``extract_to``, the extraction) on a Ray cluster.

    ``address``: the cluster to join (``"auto"``, ``"ray://host:10001"``, ...); None starts a local one when this
    process is not connected yet (``init_kwargs`` go to ``ray.init``, e.g. ``num_cpus``, ``object_store_memory``).
    ``workers`` actors of ``cpus_per_worker`` CPUs (default: the cluster's CPUs shared out among them; for
    extraction, one CPU is left to the decode tasks) and ``gpus_per_worker`` GPUs each (with GPUs the actors
    search and extract on ``"cuda"``); ``memory_per_worker`` (bytes or ``"4GiB"``) bounds what an actor's k-NN
    search holds and decides replicated or sharded support sets; ``query_rows`` per block (the unit of work
    that is retried); ``shards``: ``"auto"``, or force ``1`` (replicated) or ``workers`` (sharded); ``timeout_s``
    per wait; ``max_restarts`` per actor. A cluster this executor started is shut down by :meth:`close` (or at
    the end of a ``with`` block); one it joined is left running.

    Example::

        with RayExecutor(address="auto", workers=8, gpus_per_worker=1) as ray_engine:
            analysis = dw.analyze_from("runs/resnet50-imagenet", engine=ray_engine)
    """

    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        *,
        workers: int = 1,
        cpus_per_worker: float | None = None,
        gpus_per_worker: float = 0,
        memory_per_worker: int | str = DEFAULT_MEMORY_BUDGET,
        query_rows: int = 4096,
        shards: int | str = "auto",
        timeout_s: float = DEFAULT_TIMEOUT_S,
        max_restarts: int = 3,
        progress: bool = False,
        init_kwargs: dict[str, Any] | None = None,
    ):
        ray = _import_ray()
        if not isinstance(workers, int) or workers < 1:
            raise ValueError(f"workers must be a positive integer, got {workers!r}")
        if not isinstance(query_rows, int) or query_rows < 1:
            raise ValueError(f"query_rows must be a positive integer, got {query_rows!r}")
        if shards != "auto" and shards not in (1, workers):
            raise ValueError(f"shards must be 'auto', 1 (replicated) or workers={workers} (sharded), got {shards!r}")
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s!r}")
        self.workers, self.cpus_per_worker, self.gpus_per_worker = workers, cpus_per_worker, gpus_per_worker
        self.memory_per_worker = _parse_budget(memory_per_worker)
        self.query_rows, self.shards, self.timeout_s = query_rows, shards, float(timeout_s)
        self.max_restarts, self.progress = max_restarts, progress
        self.device = "cuda" if gpus_per_worker else None
        self._started = not ray.is_initialized()
        if self._started:
            ray.init(address=address, **{"include_dashboard": False, **(init_kwargs or {})})
        if cpus_per_worker is None:
            total = ray.cluster_resources().get("CPU", 0)
            self.cpus_per_worker = max(1, int(total // workers))
            self._extract_cpus = max(1, int((total - 1) // workers))
        else:
            self._extract_cpus = cpus_per_worker
        self._check_resources(ray)
        self._actors: list[Any] = []
        self._objects: dict[int, tuple[Any, Any]] = {}  # id(array) -> (array, its ObjectRef): put once
        self.worker_pids: list[set[int]] = []  # per actor slot, the processes that answered (a restart adds one)
        self.last_search: dict[str, Any] = {}
        self.completed_calls = 0  # k-NN calls answered so far, all searches together

    def _check_resources(self, ray: Any) -> None:
        total, free = ray.cluster_resources(), ray.available_resources()
        need = self.workers * self.cpus_per_worker
        deadline = time.monotonic() + 10  # actors killed a moment ago free their CPUs asynchronously
        while need > free.get("CPU", 0) and time.monotonic() < deadline and need <= total.get("CPU", 0):
            time.sleep(0.2)
            free = ray.available_resources()
        cpus, gpus = total.get("CPU", 0), total.get("GPU", 0)
        if self.workers * self.cpus_per_worker > cpus:
            raise ValueError(
                f"RayExecutor: {self.workers} workers x {self.cpus_per_worker} CPUs need "
                f"{self.workers * self.cpus_per_worker} CPUs but the cluster has {cpus:g}; use fewer workers"
            )
        if self.workers * self.cpus_per_worker > free.get("CPU", 0):
            raise ValueError(
                f"RayExecutor: {self.workers} workers x {self.cpus_per_worker} CPUs need "
                f"{self.workers * self.cpus_per_worker} CPUs but only {free.get('CPU', 0):g} of the cluster's "
                f"{cpus:g} are free (another executor's actors? close() it first)"
            )
        if self.workers * self.gpus_per_worker > gpus:
            raise ValueError(f"RayExecutor: {self.workers} workers x {self.gpus_per_worker} GPUs need more GPUs than "
                             f"the cluster's {gpus}")  # fmt: skip

    # ------------------------------------------------------------------------------------------------- k-NN
    def nearest_neighbours(
        self, query: Any, support: Any, k: int, *, exclude_self: Any = False, precision: str = "auto",
        device: Any = None,
    ) -> Neighbours:  # fmt: skip
        """The exact ``k`` nearest support rows of each query, as
        :func:`~difficulty_widget.measures.knn.nearest_neighbours` gives them (same sets, order and float64
        distances), searched by the actors (a :data:`~difficulty_widget.measures.search.KnnSearch`). ``device``
        is ignored: the actors use ``"cuda"`` when they have GPUs."""
        ray = _import_ray()
        from tqdm.auto import tqdm

        query, support = _rows_source(query, "query"), _rows_source(support, "support")
        n_q, n_s = query.shape[0], support.shape[0]
        if query.shape[1] != support.shape[1]:
            raise ValueError(f"query has {query.shape[1]} features but support has {support.shape[1]}")
        if not isinstance(k, int | np.integer) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        own = _own_rows(exclude_self, n_q, n_s)
        available = n_s - (1 if own is not None else 0)
        if k > available:
            raise ValueError(f"k={k} is larger than the {available} support rows available")
        check_precision(precision)
        bounds = self._shard_bounds(n_s, support.shape[1] * support.dtype.itemsize, int(k))
        source = _file_source(support)
        ref = None if source is not None else self._put(support)
        actors = self._ensure_actors(ray)
        key = repr(source if source is not None else ("object", ref.hex()))
        blocks = [(lo, min(n_q, lo + self.query_rows)) for lo in range(0, n_q, self.query_rows)]
        queues = [deque((b, s) for b in range(len(blocks))) for s in range(len(bounds))]
        slots = [s % len(bounds) for s in range(len(actors))]  # actor i serves shard slots[i]
        pending: dict[Any, tuple[int, int, int]] = {}
        load = [0] * len(actors)
        results: dict[int, dict[int, tuple]] = {b: {} for b in range(len(blocks))}
        query_refs: dict[int, Any] = {}
        best_idx = np.empty((n_q, k), dtype=np.int64)
        best_d = np.empty((n_q, k), dtype=np.float64)
        counts = dict.fromkeys(_COUNTERS, 0)
        precisions: set[str] = set()
        remaining = [len(bounds)] * len(blocks)
        bar = tqdm(total=len(blocks) * len(bounds), desc="k-NN on Ray", unit="block", disable=not self.progress,
                   leave=False)  # fmt: skip
        started = time.monotonic()
        while any(queues) or pending:
            for i, actor in enumerate(actors):  # at most two calls in flight per actor
                queue = queues[slots[i]]
                while load[i] < 2 and queue:
                    b, s = queue.popleft()
                    lo, hi = blocks[b]
                    if b not in query_refs:
                        query_refs[b] = ray.put(np.ascontiguousarray(query[lo:hi]))
                    s_lo, s_hi = bounds[s]
                    local = None if own is None else _local_own(own[lo:hi], s_lo, s_hi)
                    call = actor.search.remote(key, source, ref, s_lo, s_hi, query_refs[b], int(k), local, precision,
                                               self.device, self.memory_per_worker)  # fmt: skip
                    pending[call] = (b, s, i)
                    load[i] += 1
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=self.timeout_s)
            if not ready:
                raise TimeoutError(self._stuck(pending, blocks, bounds, time.monotonic() - started))
            for call in ready:
                b, s, i = pending.pop(call)
                load[i] -= 1
                try:
                    indices, distances, counters, used, pid = ray.get(call)
                except ray.exceptions.RayError as exc:
                    lo, hi = blocks[b]
                    raise RuntimeError(
                        f"RayExecutor: the k-NN of query rows {lo}:{hi} on support rows {bounds[s][0]}:{bounds[s][1]} "
                        f"failed on worker {i} after {self.max_restarts} restarts; nothing was merged: {exc}"
                    ) from exc
                if s in results[b]:
                    raise RuntimeError(f"RayExecutor: block {b} came back twice from shard {s}")
                results[b][s] = (indices, distances)
                self.worker_pids[i].add(pid)
                for name in _COUNTERS:
                    counts[name] += counters[name]
                precisions.update(used.split("+"))
                remaining[b] -= 1
                self.completed_calls += 1
                bar.update(1)
                if remaining[b] == 0:  # every shard has answered: merge, then drop the block's lists
                    lo, hi = blocks[b]
                    parts = [results[b][s] for s in range(len(bounds))]
                    best_idx[lo:hi], best_d[lo:hi] = _merge_shards(parts, int(k))
                    del results[b], query_refs[b]
        bar.close()
        self.last_search = {"shards": len(bounds), "blocks": len(blocks), "mode": _mode(bounds),
                            "seconds": time.monotonic() - started}  # fmt: skip
        precision_used = "+".join(p for p in PRECISIONS if p in precisions)
        return Neighbours(indices=best_idx, sq_distances=best_d, precision=precision_used, **counts)

    def _shard_bounds(self, n_support: int, row_bytes: int, k: int) -> list[tuple[int, int]]:
        """Contiguous support ranges: one (replicated) when the set fits half of ``memory_per_worker``, else one
        per worker, each with at least ``k + 1`` rows."""
        shards = self.shards
        if shards == "auto":
            shards = 1 if n_support * row_bytes <= self.memory_per_worker // 2 else self.workers
        shards = max(1, min(int(shards), n_support // (k + 1)))
        edges = np.linspace(0, n_support, shards + 1).round().astype(int)
        return [(int(a), int(b)) for a, b in itertools.pairwise(edges)]

    def _put(self, array: np.ndarray) -> Any:
        ray = _import_ray()
        held = self._objects.get(id(array))
        if held is not None and held[0] is array:
            return held[1]
        self._objects = {id(array): (array, ray.put(np.ascontiguousarray(array)))}  # keep the last one only
        return self._objects[id(array)][1]

    def _ensure_actors(self, ray: Any) -> list[Any]:
        if not self._actors:
            options = {"num_cpus": self.cpus_per_worker, "num_gpus": self.gpus_per_worker,
                       "max_restarts": self.max_restarts, "max_task_retries": self.max_restarts}  # fmt: skip
            remote = ray.remote(**options)(KnnWorker)
            self._actors = [remote.remote(max(1, int(self.cpus_per_worker))) for _ in range(self.workers)]
            self.worker_pids = [set() for _ in self._actors]
            try:
                pids = ray.get([a.pid.remote() for a in self._actors], timeout=self.timeout_s)
            except ray.exceptions.GetTimeoutError:
                free = ray.available_resources()
                raise TimeoutError(
                    f"RayExecutor: {self.workers} k-NN actors did not start within {self.timeout_s:g} s (free now: "
                    f"{free.get('CPU', 0):g} CPUs, {free.get('GPU', 0):g} GPUs; see `ray status`)"
                ) from None
            for slot, pid in zip(self.worker_pids, pids, strict=True):
                slot.add(pid)
        return self._actors

    @property
    def actors(self) -> list[Any]:
        """The k-NN actors (started on the first search)."""
        return list(self._actors)

    def _stuck(self, pending: dict, blocks: list, bounds: list, waited: float) -> str:
        items = [f"query rows {blocks[b][0]}:{blocks[b][1]} x support rows {bounds[s][0]}:{bounds[s][1]} on worker "
                 f"{i}" for b, s, i in list(pending.values())[:4]]  # fmt: skip
        return (f"RayExecutor: no k-NN result came back for {self.timeout_s:g} s ({waited:.0f} s in this search); "
                f"waiting on {len(pending)} calls: {'; '.join(items)}. Check the workers (ray status; a pool that "
                "takes every CPU can hang) or raise timeout_s")  # fmt: skip

    # ----------------------------------------------------------------------------------------------- lifetime
    def close(self) -> None:
        """Stop the actors, and the cluster if this executor started it."""
        if _ray_module() is None:
            return
        import ray

        for actor in self._actors:
            ray.kill(actor)
        self._actors, self._objects = [], {}
        if self._started and ray.is_initialized():
            ray.shutdown()
        self._started = False

    def __enter__(self) -> RayExecutor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class KnnWorker:
    """A k-NN actor's state: the support rows of its shard (loaded once per support set) and the search."""

    def __init__(self, threads: int):
        import torch

        torch.set_num_threads(threads)
        self.key: str | None = None
        self.rows: Any = None

    def pid(self) -> int:
        return os.getpid()

    def search(
        self, key: str, source: tuple | None, support: Any, lo: int, hi: int, query: np.ndarray, k: int,
        own: np.ndarray | None, precision: str, device: str | None, memory_budget: int,
    ) -> tuple[np.ndarray, np.ndarray, dict[str, int], str, int]:  # fmt: skip
        """The ``k`` nearest of support rows ``lo:hi`` for each query row, as global indices with float64
        distances ordered by (distance, index), the search's counters, its precision and this process's id."""
        shard_key = f"{key}[{lo}:{hi}]"
        if self.key != shard_key:
            self.rows = None  # the previous set first: only one is held
            rows = _open_source(source)[lo:hi] if source is not None else support[lo:hi]
            if source is not None and rows.nbytes <= memory_budget // 2:
                rows = np.array(rows)  # read once into memory: later query blocks need no disk
            self.key, self.rows = shard_key, rows
        nn = streamed_nearest_neighbours(query, self.rows, k, exclude_self=False if own is None else own,
                                         memory_budget=memory_budget, precision=precision, device=device)  # fmt: skip
        counters = {name: int(getattr(nn, name)) for name in _COUNTERS}
        return nn.indices + lo, nn.sq_distances, counters, nn.precision, os.getpid()


def _merge_shards(parts: list[tuple[np.ndarray, np.ndarray]], k: int) -> tuple[np.ndarray, np.ndarray]:
    """The first ``k`` of the shards' lists of each row by (float64 distance, global index)."""
    if len(parts) == 1:
        return parts[0]
    idx = np.concatenate([p[0] for p in parts], axis=1)
    dist = np.concatenate([p[1] for p in parts], axis=1)
    order = np.lexsort((idx, dist), axis=-1)[:, :k]
    return np.take_along_axis(idx, order, 1), np.take_along_axis(dist, order, 1)


def _local_own(own: np.ndarray, lo: int, hi: int) -> np.ndarray | None:
    local = np.where((own >= lo) & (own < hi), own - lo, -1)
    return local if (local >= 0).any() else None


def _mode(bounds: list[tuple[int, int]]) -> str:
    return "replicated" if len(bounds) == 1 else "sharded"


def _file_source(x: Any) -> tuple[str, int, str, tuple[int, ...]] | None:
    """(file, byte offset, dtype, shape) of a C-contiguous memmap's rows, so a worker can map them itself; None
    for anything else."""
    if not isinstance(x, np.memmap) or x.filename is None or not x.flags.c_contiguous or x.size == 0:
        return None
    mm = getattr(x, "_mmap", None)
    if mm is None:
        return None
    base = np.frombuffer(mm, dtype=np.uint8).ctypes.data
    start = x.offset - x.offset % mmap.ALLOCATIONGRANULARITY  # where numpy began the mapping in the file
    return (str(x.filename), int(start + x.ctypes.data - base), x.dtype.str, tuple(int(n) for n in x.shape))


def _open_source(source: tuple) -> np.memmap:
    path, offset, dtype, shape = source
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} is not visible on this Ray node (the support set's file must be on a "
                                "file system every node sees)")  # fmt: skip
    return np.memmap(path, dtype=np.dtype(dtype), mode="r", offset=offset, shape=tuple(shape))


def _ray_module() -> Any:
    import sys

    return sys.modules.get("ray")


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise ImportError('the Ray engine needs Ray: pip install "difficulty-widget[ray]"') from exc
    return ray


def as_executor(engine: Any, memory_budget: int | str | None = None) -> Any:
    """The executor an ``engine`` argument names: None or ``"local"`` (in this process), ``"ray"`` (a
    :class:`RayExecutor` with its defaults), or an executor object as it is."""
    if engine is None or engine == "local":
        return LocalExecutor(memory_budget)
    if engine == "ray":
        return RayExecutor()
    if hasattr(engine, "nearest_neighbours"):
        return engine
    raise ValueError(f"engine must be 'local', 'ray', a LocalExecutor or a RayExecutor, got {engine!r}")


# ------------------------------------------------------------------------------------------------ extraction
def ray_extract_rows(
    executor: RayExecutor,
    model: Any,
    plan: Any,
    chunks: list[tuple[int, int, int, int]],
    parts: list[Any],
    *,
    label_map: Any = None,
    progress: bool = False,
) -> Iterator[dict[str, Any]]:
    """Extract the rows of ``chunks`` on the cluster; each chunk is (global start, data part, local start, local
    stop). Yields, as results arrive (in any order), dicts of ``rows`` (global row numbers), ``labels``,
    ``predictions``, ``logits`` and ``probes`` (name -> float32 rows). A Ray Data pipeline: decode tasks read a
    chunk's rows through the dataset (its transforms) into the input batch ``extract`` would make; an actor pool
    (``executor.workers`` actors of ``gpus_per_worker`` GPUs) runs ``extract`` with the model loaded once per
    actor and returns plain ``pyarrow`` columns (``fixed_size_list<float32>`` for the logits and probes)."""
    ray = _import_ray()
    import queue
    import threading

    total = ray.cluster_resources().get("CPU", 0)
    cpus = executor._extract_cpus
    if executor.workers * cpus >= total:
        raise ValueError(
            f"RayExecutor extraction: {executor.workers} model workers x {cpus} CPUs leave no "
            f"CPU of the cluster's {total:g} for the decode tasks (Ray Data would hang: ray issue 44687); use "
            "fewer workers or a bigger cluster"
        )
    if not chunks:
        return
    ray.data.DataContext.get_current().enable_progress_bars = bool(progress)
    refs = {"parts": [ray.put(parts)], "model": [ray.put(model)]}  # in lists: Ray passes them on unresolved
    items = [{"start": a, "part": p, "local_start": c, "local_stop": d} for a, p, c, d in chunks]
    decoded = ray.data.from_items(items, override_num_blocks=len(items)).map_batches(
        _decode_chunk, batch_size=1, fn_kwargs={"parts": refs["parts"]}, num_cpus=1
    )
    extracted = decoded.map_batches(
        ExtractWorker, batch_size=1, concurrency=executor.workers, num_cpus=cpus,
        num_gpus=executor.gpus_per_worker,
        fn_constructor_kwargs={"model": refs["model"], "plan": plan, "label_map": label_map,
                               "device": executor.device, "threads": max(1, int(cpus))},
    )  # fmt: skip
    names = [spec.name for spec in plan.probes]
    results: queue.Queue = queue.Queue(maxsize=4)
    stop = threading.Event()

    def consume() -> None:
        try:
            for table in extracted.iter_batches(batch_size=None, batch_format="pyarrow", prefetch_batches=1):
                while not stop.is_set():
                    try:
                        results.put(("table", table), timeout=1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            results.put(("done", None))
        except BaseException as exc:  # handed to the caller's thread
            results.put(("error", exc))

    thread = threading.Thread(target=consume, daemon=True, name="difficulty-widget-ray-extract")
    thread.start()
    waiting = {a: d - c for a, _, c, d in chunks}  # chunk start -> rows still to come
    try:
        while True:
            try:
                kind, value = results.get(timeout=executor.timeout_s)
            except queue.Empty:
                shown = ", ".join(f"{a}:{a + n}" for a, n in sorted(waiting.items())[:4])
                raise TimeoutError(
                    f"RayExecutor extraction: nothing came back for {executor.timeout_s:g} s; {len(waiting)} chunks "
                    f"are pending (rows {shown}, ...). Check `ray status`, or raise timeout_s"
                ) from None
            if kind == "error":
                raise RuntimeError(f"RayExecutor extraction failed: {value}") from value
            if kind == "done":
                break
            out = _from_table(value, names)
            starts = out.pop("chunk")
            for start, count in zip(*np.unique(starts, return_counts=True), strict=True):
                waiting[int(start)] -= int(count)
                if waiting[int(start)] == 0:
                    del waiting[int(start)]
            yield out
    finally:
        stop.set()
    if waiting:
        shown = ", ".join(f"{a}:{a + n}" for a, n in sorted(waiting.items())[:4])
        raise RuntimeError(f"RayExecutor extraction ended with {len(waiting)} chunks missing (rows {shown})")


def _decode_chunk(batch: dict[str, np.ndarray], parts: list[Any]) -> dict[str, np.ndarray]:
    """A decode task: one chunk's rows as the float32 input batch and the labels that ``extract`` would read."""
    import ray

    from ..extract.extraction import iter_batches
    from .run_directory import rows_of

    (source,) = [ray.get(p) if isinstance(p, ray.ObjectRef) else p for p in parts]
    part, lo, hi = int(batch["part"][0]), int(batch["local_start"][0]), int(batch["local_stop"][0])
    _, batches = iter_batches(rows_of(source[part], lo, hi), hi - lo)
    x, y = next(batches)
    return {"start": batch["start"], "x": x.numpy()[None], "y": np.asarray(y)[None]}


class ExtractWorker:
    """An extraction actor: the model loaded once; each call runs ``extract`` on one decoded chunk and returns
    its rows as a ``pyarrow`` table of plain columns."""

    def __init__(self, model: list[Any], plan: Any, label_map: Any, device: str | None, threads: int):
        import ray
        import torch

        torch.set_num_threads(threads)
        (self.model,) = [ray.get(m) if isinstance(m, ray.ObjectRef) else m for m in model]
        self.plan, self.label_map, self.device = plan, label_map, device

    def __call__(self, batch: dict[str, np.ndarray]) -> Any:
        import pyarrow as pa

        from ..extract import extract

        x, y, start = np.array(batch["x"][0]), np.asarray(batch["y"][0]), int(batch["start"][0])  # x writable
        ex = extract(self.model, (x, y), plan=self.plan, device=self.device, label_map=self.label_map,
                     progress=False)  # fmt: skip
        n = len(ex.labels)
        columns = {"chunk": np.full(n, start, dtype=np.int64), "row": np.arange(start, start + n, dtype=np.int64),
                   "label": ex.labels, "prediction": ex.predictions}  # fmt: skip
        table = {name: pa.array(values) for name, values in columns.items()}
        table["logits"] = _fixed_size_list(ex.logits)
        for name, values in ex.probes.items():
            table[f"probe:{name}"] = _fixed_size_list(values)
        return pa.table(table)


def _fixed_size_list(values: np.ndarray) -> Any:
    """A (n x d) float32 array as a plain ``pyarrow`` ``fixed_size_list<float32>[d]`` column."""
    import pyarrow as pa

    flat = pa.array(np.ascontiguousarray(values, dtype=np.float32).reshape(-1))
    return pa.FixedSizeListArray.from_arrays(flat, values.shape[1])


def _from_table(table: Any, names: list[str]) -> dict[str, Any]:
    """The numpy arrays of one table of :class:`ExtractWorker` rows."""

    def matrix(column: str) -> np.ndarray:
        values = table.column(column).combine_chunks()
        return values.values.to_numpy().reshape(len(table), -1)

    return {
        "chunk": table.column("chunk").to_numpy(),
        "rows": table.column("row").to_numpy(),
        "labels": table.column("label").to_numpy(),
        "predictions": table.column("prediction").to_numpy(),
        "logits": matrix("logits"),
        "probes": {name: matrix(f"probe:{name}") for name in names},
    }
