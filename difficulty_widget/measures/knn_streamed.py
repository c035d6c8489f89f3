"""Exact k nearest neighbours with the support set streamed in row blocks: memory bounded by a budget, not by N.

**Rule.** The same as :func:`~difficulty_widget.measures.knn.nearest_neighbours` (module docstring of
:mod:`difficulty_widget.measures.knn`): the neighbours of a query are the first ``k`` support points in the order
of (float64 squared distance ``((s - q) ** 2).sum()`` on the original arrays, support index).

**Search.** The support set is read one block of rows at a time (``support[a:b]``; an ``np.memmap`` such as
``np.load(path, mmap_mode="r")`` is never read whole). For each block and each chunk of queries,
:func:`~difficulty_widget.measures.knn.nearest_neighbours` gives the block's ``k_b = min(k, rows available in the
block)`` nearest with their float64 distances (``exact_distances=True``), ordered by (distance, index within the
block); the indices are shifted by the block's first row and merged with the list kept so far by (distance,
global index) (``np.lexsort``), keeping the first ``k``.

**Why the merge is exact.** (distance, global index) is a total order of the support points of a query. A point
among the first ``k`` of the whole set is among the first ``k`` of its own block (fewer than ``k`` points of the
block precede it), so the union of the block lists holds the whole answer; each block list is exact within the
block, its distances are the float64 values of the rule (the same operations on the same rows, bit for bit)
and the order of equal distances by block index is the order by global index (one offset per block). Merging
keeps the first ``k`` of the union, which are the first ``k`` of the whole set. A query's own row
(``exclude_self``) is mapped to its block (``-1`` in the others), and a block with no available row is skipped.

**Memory.** One call holds, for ``b`` support rows and ``q`` query rows (``d`` features, input item sizes ``w_s``
and ``w_q``; ``p = pad32(d + 6)`` the width of the bfloat16 rows), at most about::

    b (d w_s + d c_s + 64) + q (d w_q + 80 k + 16) + c (d c_q + 128 min(8 (k + 16), b)) + min(V, c b) c_v

- ``b d w_s``: the block read into memory (a memmap's rows are copied into one reused buffer and their mapped
  pages released; the rows of an array in memory are used as they are);
- ``b d c_s``: the centred copy: ``4 d`` float32 (``"fp32"``), ``8 d`` (``"fp64"``), ``4 d + 2 p`` bfloat16
  plus the float32 copy that rows the bfloat16 search cannot prove need (``"bf16"``, ``"auto"``); ``64``: the
  block's float64 norms and the bounds' per-row values;
- ``q d w_q``: the query chunk read into memory; ``80 k + 16``: the call's neighbour lists (16 bytes a
  neighbour) and the merge's temporaries (the concatenated lists and their order);
- ``c``, the query rows of one internal chunk of a call (its ``chunk_size``: 1024, 8192 on a device, fewer
  when the budget asks): the centred chunk (``c_q = 4 + 2``, float32 and bfloat16; ``8 + 2`` for ``"fp64"``)
  and 128 bytes for each of up to ``min(8 (k + 16), b)`` candidates of a row (the widest search);
- the product buffer: ``min(V, c b)`` values of ``c_v`` bytes (``V = 2**24``, ``_BLOCK_DISTANCES``; ``2**27`` on
  a device; ``c_v = 4``, ``8`` for ``"fp64"``, ``6`` where bfloat16 products may run).

The query chunk takes at most a quarter of the budget, the internal chunk another quarter, the support block
the rest (:func:`plan_stream`). The result (16 bytes per neighbour, ``n_query x k``) and the process's own
memory (Python, torch) come on top. With a device the estimate counts host and device memory together: the
centred copies, the chunk's temporaries and the product buffer live there, with a second ``b d w_s`` for the
block's copy that the float64 re-measurements use.
"""

from __future__ import annotations

import mmap
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validation import check_positive_int, to_numpy
from .knn import (
    _BLOCK_DISTANCES,
    _CHUNK_ROWS,
    _DEVICE_BLOCK_DISTANCES,
    _DEVICE_CHUNK_ROWS,
    EXTRA_CANDIDATES,
    PRECISIONS,
    Neighbours,
    _own_rows,
    check_precision,
    nearest_neighbours,
)

#: the default ``memory_budget`` of :func:`streamed_nearest_neighbours`
DEFAULT_MEMORY_BUDGET = 2**30
_CANDIDATE_BYTES = 128  # temporaries per candidate of a query row inside a call (values, bounds, indices, masks)
_WIDEST = 8  # candidates of the widest search per row: 8 (k + EXTRA_CANDIDATES) (knn.WIDENING, in batches)
_PAD = np.iinfo(np.int64).max  # index of an empty place in a neighbour list: sorts after every support row


@dataclass(frozen=True)
class StreamPlan:
    """How :func:`streamed_nearest_neighbours` splits the work: ``support_rows`` per block, ``query_rows`` per
    call, ``chunk_rows`` per internal chunk of a call (its ``chunk_size``), the number of blocks and query
    chunks, and ``estimate``, the bytes one call holds at most (module docstring), within the budget."""

    support_rows: int
    query_rows: int
    chunk_rows: int
    n_blocks: int
    n_query_chunks: int
    estimate: int


def call_bytes(
    support_rows: int,
    query_rows: int,
    chunk_rows: int,
    n_features: int,
    k: int,
    *,
    precision: str = "auto",
    support_itemsize: int = 4,
    query_itemsize: int = 4,
    host: bool = True,
) -> int:
    """The memory estimate (bytes) of one call on ``support_rows`` x ``query_rows`` (module docstring)."""
    per_support, per_query, per_chunk, value_bytes, full = _costs(
        support_rows, n_features, k, precision, support_itemsize, query_itemsize, host
    )
    values = min(full, chunk_rows * support_rows)
    return support_rows * per_support + query_rows * per_query + chunk_rows * per_chunk + values * value_bytes


def _costs(
    support_rows: int, d: int, k: int, precision: str, support_itemsize: int, query_itemsize: int, host: bool
) -> tuple[int, int, int, int, int]:
    """Bytes per support row, per query row, per internal chunk row, per product value, and the product buffer's
    largest size in values (module docstring)."""
    bf16 = precision in ("auto", "bf16")
    centred = 8 * d if precision == "fp64" else 4 * d + (2 * (-(-(d + 6) // 32) * 32) if bf16 else 0)
    per_support = d * support_itemsize * (1 if host else 2) + centred + 64
    per_query = d * query_itemsize + 80 * k + 16
    candidates = min(_WIDEST * (k + EXTRA_CANDIDATES), support_rows)  # a search has at most the block's rows
    per_chunk = d * ((8 if precision == "fp64" else 4) + 2) + _CANDIDATE_BYTES * candidates
    value_bytes = 8 if precision == "fp64" else (6 if bf16 else 4)
    return per_support, per_query, per_chunk, value_bytes, _BLOCK_DISTANCES if host else _DEVICE_BLOCK_DISTANCES


def plan_stream(
    n_query: int,
    n_support: int,
    n_features: int,
    k: int,
    memory_budget: int | str | None = DEFAULT_MEMORY_BUDGET,
    *,
    precision: str = "auto",
    support_itemsize: int = 4,
    query_itemsize: int = 4,
    device: Any = None,
) -> StreamPlan:
    """The block and chunk sizes for a budget: the query chunk gets at most a quarter of it, the internal chunk
    another quarter, the support block the rest (the most rows with :func:`call_bytes` within the budget).
    ``ValueError`` when the budget cannot hold one support row and one query row."""
    budget = _parse_budget(memory_budget)
    host = _is_host(device)
    sizes = {"n_features": n_features, "k": k, "precision": precision, "host": host}
    sizes |= {"support_itemsize": support_itemsize, "query_itemsize": query_itemsize}
    smallest = call_bytes(1, 1, 1, **sizes)
    if smallest > budget:
        raise ValueError(
            f"memory_budget={memory_budget!r} is too small: one support row and one query row need about "
            f"{smallest} bytes with {n_features} features and k={k} (module docstring of knn_streamed)"
        )
    query_rows = max(1, min(n_query, budget // 4 // call_bytes(0, 1, 0, **sizes)))
    chunk_row = _costs(n_support, n_features, k, precision, support_itemsize, query_itemsize, host)[2]
    chunk_rows = max(1, min(query_rows, _CHUNK_ROWS if host else _DEVICE_CHUNK_ROWS, budget // 4 // chunk_row))
    support_rows = _block_rows(budget, n_support, query_rows, chunk_rows, sizes)
    if support_rows < 1:  # no room for a quarter each: one query row per call
        query_rows = chunk_rows = 1
        support_rows = _block_rows(budget, n_support, 1, 1, sizes)
    return StreamPlan(
        support_rows=support_rows,
        query_rows=int(query_rows),
        chunk_rows=int(chunk_rows),
        n_blocks=-(-n_support // support_rows),
        n_query_chunks=-(-n_query // query_rows),
        estimate=call_bytes(support_rows, query_rows, chunk_rows, **sizes),
    )


def _block_rows(budget: int, n_support: int, query_rows: int, chunk_rows: int, sizes: dict[str, Any]) -> int:
    """The most support rows (at most ``n_support``; 0 if none) whose :func:`call_bytes` stays within ``budget``
    (a binary search: the estimate grows with the rows)."""
    lo, hi = 0, n_support
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if call_bytes(mid, query_rows, chunk_rows, **sizes) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return lo


def streamed_nearest_neighbours(
    query: Any,
    support: Any,
    k: int,
    *,
    exclude_self: bool | Any = False,
    memory_budget: int | str | None = DEFAULT_MEMORY_BUDGET,
    precision: str = "auto",
    device: Any = None,
    progress: bool = False,
) -> Neighbours:
    """The exact ``k`` nearest support points of every query, the same result as
    :func:`~difficulty_widget.measures.knn.nearest_neighbours` (rule, merge and memory: module docstring), with
    the support set read in blocks of rows.

    ``query`` and ``support`` are 2-D numeric arrays, ``np.memmap`` included, or objects with ``shape``, a numpy
    ``dtype`` and row slicing (read only as ``x[a:b]``). ``exclude_self``: ``True`` (the queries are the support
    set) or per query the support row that is the query itself (``-1``: none). ``memory_budget``: bytes, or a
    string such as ``"512MiB"`` or ``"2GB"``; it sets the rows per support block and per query chunk
    (:func:`plan_stream`). ``precision`` and ``device`` are those of ``nearest_neighbours``; the result's
    ``precision`` is the set of precisions the calls used, joined by ``"+"`` in the order of
    :data:`~difficulty_widget.measures.knn.PRECISIONS` (``"bf16"``, ``"bf16+fp32"``), and its counters
    (``first_rows``, ``widened_rows``, ...) are summed over the calls, one per block and query chunk, so a
    query row counts once per block. The distances are exact (``error_bounds`` is None). ``progress``: a tqdm
    bar over the support blocks. Inputs are checked before any block is read; NaN or infinite values are
    found block by block.

    Example::

        support = np.load("train_probe.npy", mmap_mode="r")  # 1.2M x 2048 float32: 9.8 GB on disk
        query = np.load("val_probe.npy", mmap_mode="r")
        nn = streamed_nearest_neighbours(query, support, k=30, memory_budget="2GiB")
        nn.indices, nn.sq_distances  # (n_query, 30): the same as nearest_neighbours on the arrays in memory
    """
    from tqdm.auto import tqdm

    query, support = _rows_source(query, "query"), _rows_source(support, "support")
    if query.shape[1] != support.shape[1]:
        raise ValueError(f"query has {query.shape[1]} features but support has {support.shape[1]}")
    n_q, n_s = query.shape[0], support.shape[0]
    k = check_positive_int(k, "k")
    own = _own_rows(exclude_self, n_q, n_s)
    available = n_s - (1 if own is not None else 0)
    if k > available:
        limit = "n_support - 1 (exclude_self)" if own is not None else "n_support"
        raise ValueError(f"k={k} is larger than {limit} = {available}")
    check_precision(precision)
    if device is not None and _device(device).type == "mps":
        raise ValueError("device='mps' is not supported: the exact k-NN search needs float64 on its device")
    plan = plan_stream(n_q, n_s, query.shape[1], k, memory_budget, precision=precision, device=device,
                       support_itemsize=support.dtype.itemsize, query_itemsize=query.dtype.itemsize)  # fmt: skip
    best_idx = np.full((n_q, k), _PAD, dtype=np.int64)
    best_d = np.full((n_q, k), np.inf, dtype=np.float64)
    tally = _Tally()
    s_buffer, q_buffer = _Buffer(support, plan.support_rows), _Buffer(query, plan.query_rows)
    single = _read_rows(query, 0, n_q, q_buffer) if plan.n_query_chunks == 1 else None
    blocks = range(0, n_s, plan.support_rows)
    for lo in tqdm(blocks, desc="k-NN support blocks", unit="block", disable=not progress, leave=False):
        hi = min(n_s, lo + plan.support_rows)
        block = _read_rows(support, lo, hi, s_buffer)
        for q_lo in range(0, n_q, plan.query_rows):
            q_hi = min(n_q, q_lo + plan.query_rows)
            chunk = single if single is not None else _read_rows(query, q_lo, q_hi, q_buffer)
            local = None if own is None else _local_own(own[q_lo:q_hi], lo, hi)
            for rows, own_arg, k_block in _calls(local, hi - lo, k):
                part = chunk if rows is None else chunk[rows]
                found = nearest_neighbours(part, block, k_block, exclude_self=own_arg, exact_distances=True,
                                           chunk_size=plan.chunk_rows, precision=precision, device=device)  # fmt: skip
                targets = np.arange(q_lo, q_hi) if rows is None else q_lo + rows
                _merge(best_idx, best_d, targets, found.indices + lo, found.sq_distances)
                tally.add(found)
    return tally.result(best_idx, best_d)


def _parse_budget(memory_budget: Any) -> int:
    """Bytes of ``memory_budget`` (``None``: the default), via :func:`difficulty_widget.extract.plan.parse_bytes`."""
    from ..extract.plan import parse_bytes

    return parse_bytes(DEFAULT_MEMORY_BUDGET if memory_budget is None else memory_budget, "memory_budget")


def _device(device: Any) -> Any:
    import torch

    return torch.device(device)


def _is_host(device: Any) -> bool:
    """Whether the search runs on the CPU (``device`` None or a CPU device)."""
    return device is None or _device(device).type == "cpu"


def _rows_source(x: Any, name: str) -> Any:
    """``x`` if rows can be sliced from it as numpy arrays (a numpy array, a memmap, or an object with ``shape``
    and a numpy ``dtype``), else ``x`` as a numpy array; checked to be 2-D, non-empty and numeric without
    reading it."""
    if not isinstance(x, np.ndarray) and not (hasattr(x, "shape") and isinstance(getattr(x, "dtype", None), np.dtype)):
        x = to_numpy(x)
    shape = tuple(x.shape)
    if len(shape) != 2:
        raise ValueError(f"{name} must be a 2-D array (n_instances, n_features), got shape {shape}")
    if shape[0] == 0 or shape[1] == 0:
        raise ValueError(f"{name} is empty: got shape {shape}")
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        raise ValueError(f"{name} must be numeric, got dtype {x.dtype}")
    return x


class _Buffer:
    """One reused array for the rows read from a memmap or another non-numpy source (made on first use)."""

    def __init__(self, source: Any, rows: int):
        self.shape, self.dtype, self.array = (min(rows, source.shape[0]), source.shape[1]), source.dtype, None

    def take(self, n: int) -> np.ndarray:
        if self.array is None:
            self.array = np.empty(self.shape, dtype=self.dtype)
        return self.array[:n]


def _read_rows(x: Any, lo: int, hi: int, buffer: _Buffer) -> np.ndarray:
    """Rows ``lo:hi`` of ``x`` in memory: a view of an array in memory; a memmap's rows copied into ``buffer``
    (then their mapped pages released); other sources converted with their own slicing."""
    part = x[lo:hi]
    if isinstance(x, np.memmap):
        out = buffer.take(hi - lo)
        np.copyto(out, part)
        _release_pages(part)
        return out
    if isinstance(part, np.ndarray):
        return part
    out = buffer.take(hi - lo)
    np.copyto(out, to_numpy(part))
    return out


def _release_pages(part: np.memmap) -> None:
    """Drop this process's mapping of the pages under ``part`` (a read-only or shared memmap view) with
    ``madvise(MADV_DONTNEED)``: the file's pages stay in the page cache, read again on the next access, but no
    longer count as this process's resident memory. Not for copy-on-write maps (mode ``"c"``: their changes
    would be lost) nor where ``madvise`` is missing."""
    mm = getattr(part, "_mmap", None)
    if mm is None or getattr(part, "mode", "c") == "c" or not hasattr(mmap, "MADV_DONTNEED") or part.size == 0:
        return
    base = np.frombuffer(mm, dtype=np.uint8).ctypes.data
    low, high = _byte_bounds(np.asarray(part))
    start = (low - base) // mmap.PAGESIZE * mmap.PAGESIZE
    mm.madvise(mmap.MADV_DONTNEED, start, high - base - start)


def _byte_bounds(a: np.ndarray) -> tuple[int, int]:
    """The first and one past the last byte address of a non-empty array's elements, for any strides (as
    ``numpy.lib.array_utils.byte_bounds``, which numpy < 2 lacks under that name)."""
    low = high = a.ctypes.data
    for stride, n in zip(a.strides, a.shape, strict=True):
        if stride < 0:
            low += stride * (n - 1)
        else:
            high += stride * (n - 1)
    return low, high + a.itemsize


def _local_own(own: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Per query row, its own row within the block ``lo:hi`` (-1 where it lies outside the block)."""
    return np.where((own >= lo) & (own < hi), own - lo, -1)


def _calls(local: np.ndarray | None, n_block: int, k: int) -> list[tuple[np.ndarray | None, Any, int]]:
    """(query rows of the chunk (None: all), ``exclude_self``, ``k_b``) of the calls on one block. Rows whose own
    row is in the block have ``n_block - 1`` rows available there, the others ``n_block``: one call unless the
    block is smaller than ``k + 1`` rows and holds the own row of some rows but not all; calls with ``k_b = 0``
    are left out."""
    inside = None if local is None else local >= 0
    if inside is None or not inside.any():
        calls = [(None, False, min(k, n_block))]
    elif k < n_block or inside.all():
        calls = [(None, local, min(k, n_block - 1))]
    else:
        rows_in, rows_out = np.flatnonzero(inside), np.flatnonzero(~inside)
        calls = [(rows_in, local[rows_in], min(k, n_block - 1)), (rows_out, False, min(k, n_block))]
    return [call for call in calls if call[2] > 0]


def _merge(best_idx: np.ndarray, best_d: np.ndarray, rows: np.ndarray, idx: np.ndarray, dist: np.ndarray) -> None:
    """Merge a block's neighbour lists (global indices ``idx``, float64 ``dist``) of query ``rows`` into the
    lists kept so far: the first ``k`` of both by (distance, index)."""
    k = best_idx.shape[1]
    all_idx = np.concatenate([best_idx[rows], idx], axis=1)
    all_d = np.concatenate([best_d[rows], dist], axis=1)
    order = np.lexsort((all_idx, all_d), axis=-1)[:, :k]
    best_idx[rows] = np.take_along_axis(all_idx, order, 1)
    best_d[rows] = np.take_along_axis(all_d, order, 1)


class _Tally:
    """The counters of the calls' results, summed, and the precisions they used."""

    _FIELDS = ("fallback_rows", "widened_rows", "rechecked_rows", "remeasured_rows", "first_rows")

    def __init__(self) -> None:
        self.counts = dict.fromkeys(self._FIELDS, 0)
        self.precisions: set[str] = set()

    def add(self, found: Neighbours) -> None:
        for name in self._FIELDS:
            self.counts[name] += getattr(found, name)
        self.precisions.update(found.precision.split("+"))

    def result(self, indices: np.ndarray, sq_distances: np.ndarray) -> Neighbours:
        precision = "+".join(p for p in PRECISIONS if p in self.precisions)
        return Neighbours(indices=indices, sq_distances=sq_distances, precision=precision, **self.counts)
