"""Exact k nearest neighbours with the support set streamed in row blocks: memory bounded by a budget, not by N.

**Rule.** The same as :func:`~difficulty_widget.measures.knn.nearest_neighbours` (module docstring of
:mod:`difficulty_widget.measures.knn`): the neighbours of a query are the first ``k`` support points in the order
of (float64 squared distance ``((s - q) ** 2).sum()`` on the original arrays, support index).

**Search** (on the CPU, with several blocks). The support set is read one block of rows at a time
(``support[a:b]``; an ``np.memmap`` such as ``np.load(path, mmap_mode="r")`` is never read whole), twice per
group of queries (:func:`plan_stream`: one group unless the budget is small); each group is searched in internal
chunks of rows. The candidate search and its bounds are those of the in-memory engine, with the support set
coming in blocks:

- *Centre and precision.* Every block is centred on one centre, the one ``nearest_neighbours`` would choose for
  the first block (its float64 mean rounded to float32, or 0 where centring does not pay): the bounds hold for
  any common shift. The precision is chosen as there; ``"auto"``'s trial searches the first 256 queries against
  the first block alone (proven as if it were the support set) and goes on in float32 if under 80% are proven.
- *First pass: candidates.* For each block the products of the in-memory engine (one bfloat16 product of the
  augmented rows, or float32 / float64) give each query row its ``n_sel`` smallest values ``V_j`` among the
  block's rows, each with the bound ``e_j`` of its precision (the block's own largest norm in ``eta``): ``L_j =
  V_j - e_j <= D_j <= U_j = V_j + e_j``. Per row the search keeps ``T``, the least so far of the k-th smallest
  ``U`` among its candidates (``k`` distinct support points lie at or below it, so the k-th neighbour's distance
  is at most ``T``; ``T`` only decreases), and the candidates with ``L <= T``: one with ``L > T`` is out for good
  (``D >= L > T >= `` the final ``T``), so a block's candidates are merged only where ``L`` reaches the current
  ``T``. At most ``n_cand = k + 64`` (bfloat16; ``k + 16`` in float32 or float64) stay, those of the smallest
  ``L``; the least ``L`` let go for want of room (``cut``) must end above ``T``.
- *Each block's other rows* (not among the row's candidates there: every value at least ``V_last``, the
  largest candidate value) are ruled out with the in-memory engine's outsider test (``_no_outsider``: the
  float32 or bfloat16 value with the error of each support norm, and the triangle inequality) against the
  block's sorted norms and the current ``T``, which holds for the final, smaller ``T`` too. Where the test fails
  and fewer than ``n_cand`` candidates were taken, the row is searched again in the block with ``n_cand`` (its
  candidates from the block replaced); where it still fails, ``V_last`` goes into the row's ``floor``, tested
  at the end against the norms of the whole support set. ``n_sel`` is ``n_cand`` for the first block, then twice
  the number of candidates that reached ``T`` for 99% of the rows in the block before (from 16 to ``n_cand``):
  after a few blocks a block holds few of a row's neighbours.
- *Proof.* A row is proven when its arithmetic stayed finite (and ``(|x| + max |y|)^2 < 2^120``), at least
  ``k`` kept candidates are *live* (``L <= T``), ``cut > T``, and no support norm allows an outsider below its
  ``floor`` a distance ``<= T``. Then every support point with ``D <= T`` is live: as a candidate of its block
  it had ``L <= D <= T`` at every merge and stayed, and otherwise its block's test or the floor's ruled it out.
  The first ``k`` of the whole set have ``D <= T``, so they are the first ``k`` of the live candidates.
- *Second pass.* The blocks again: the live candidates of the proven rows are measured in float64 with the
  in-memory engine's ``sum((s - q)^2)`` (numpy on the original rows: bit for bit its distances), and each row
  takes its first ``k`` by (distance, index). The rows not proven (few, if any: many exact ties, say) are
  searched block by block by ``nearest_neighbours`` (float32, or float64 for ``"fp64"``) and merged as below.

A memmap's rows are used where they are mapped and their pages released after each block (a copy-on-write map
or another source: read into one reused buffer).

**One block, or a device.** For each block and query group, ``nearest_neighbours`` gives the block's ``k_b = min(k,
rows available in the block)`` nearest with their float64 distances (``exact_distances=True``), ordered by
(distance, index within the block); the indices are shifted by the block's first row and merged with the list kept
so far by (distance, global index) (``np.lexsort``), keeping the first ``k``. The merge is exact: (distance, global
index) is a total order of the support points of a query; a point among the first ``k`` of the whole set is among
the first ``k`` of its own block (fewer than ``k`` points of the block precede it), so the union of the block lists
holds the whole answer; each block list is exact within the block, its distances are the float64 values of the rule
(the same operations on the same rows, bit for bit) and the order of equal distances by block index is the order by
global index (one offset per block). Merging keeps the first ``k`` of the union, which are the first ``k`` of the
whole set. A query's own row (``exclude_self``) is mapped to its block (``-1`` in the others), and a block with no
available row is skipped. The rows the streamed search cannot prove are searched the same way.

**Memory.** The search holds, for ``b`` support rows and a group of ``q`` query rows (``d`` features, input item
sizes ``w_s`` and ``w_q``; ``p = pad32(d + 6)`` the width of the bfloat16 rows), at most about::

    b (d w_s + d c_s + 64) + q (max(d w_q, p_q) + 25 n_cand + 80 k + 64)
        + c (d (c_q + w_q) + 128 min(8 (k + 16), b)) + min(V, c b) c_v

- ``b d w_s``: the block's rows (a memmap's pages mapped while it is searched, or the buffer they are read into;
  the rows of an array in memory are used as they are);
- ``b d c_s``: the centred copies: ``4 d`` float32 (``"fp32"``), ``8 d`` (``"fp64"``), ``4 d + 2 p`` bfloat16
  and the float32 copy that the rows the bfloat16 search cannot prove need (``"bf16"``, ``"auto"``; the streamed
  search holds the bfloat16 copy, the calls for the rows it cannot prove a float32 one); ``64``: the block's
  float64 norms and the bounds' per-row values;
- ``q``: the group's rows read into memory (``d w_q``; until the second pass, in bfloat16, only their copy ``p_q
  = 2 p + 16``), 25 bytes per kept candidate (bounds, index, live mask; in the second pass its float64
  distance), ``80 k`` for the neighbour lists (16 bytes a neighbour) and the merge's temporaries, 64 for the
  per-row values;
- ``c``, the query rows of one internal chunk (its ``chunk_size``: 1024, 8192 on a device, fewer when the
  budget asks): the centred chunk (``c_q = 4 + 2``, float32 and bfloat16; ``8 + 2`` for ``"fp64"``), a copy of
  the chunk's rows for a call (``w_q``; on the CPU), and 128 bytes for each of up to ``min(8 (k + 16), b)``
  candidates of a row (the widest search);
- the product buffer: ``min(V, c b)`` values of ``c_v`` bytes (``V = 2**24``, ``_BLOCK_DISTANCES``; ``2**27`` on
  a device; ``c_v = 4``, ``8`` for ``"fp64"``, ``6`` where bfloat16 products may run).

The query group takes at most half of the budget, the internal chunk a quarter, the support block the rest
(:func:`plan_stream`). The result (16 bytes per neighbour, ``n_query x k``), the sorted norms of the whole
support set (8 bytes a row), and the process's own memory (Python, torch) come on top. With a device (calls of
``nearest_neighbours`` only) a query row costs ``d w_q + 80 k + 16`` (its rows, the neighbour lists and the
merge) and the group a quarter of the budget; the estimate counts host and device memory together: the centred
copies, the chunk's temporaries and the product buffer live there, with a second ``b d w_s`` for the block's
copy that the float64 re-measurements use.
"""

from __future__ import annotations

import itertools
import mmap
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validation import check_positive_int, to_numpy
from .knn import (
    _BF16_MIN_CERTIFIED,
    _BF16_TRIAL_ROWS,
    _BLOCK_DISTANCES,
    _CENTRE_GAIN,
    _CHUNK_ROWS,
    _DEVICE_BLOCK_DISTANCES,
    _DEVICE_CHUNK_ROWS,
    _UNIT_ROUNDOFF32,
    _UNIT_ROUNDOFF64,
    BF16_EXTRA_CANDIDATES,
    EXTRA_CANDIDATES,
    PRECISIONS,
    Neighbours,
    _augmented_bf16,
    _bf16_constants,
    _bf16_depth,
    _bf16_errors,
    _bf16_pays,
    _bf16_slope,
    _bf16_sums_in_float32,
    _bf16_support,
    _centred,
    _float_support,
    _ieee_float32,
    _largest_share,
    _mean,
    _no_outsider,
    _own_rows,
    _pair_sq_dist,
    _sample_moments,
    _smallest32,
    _smallest_bf16,
    check_device,
    check_features,
    check_precision,
    nearest_neighbours,
)

#: the default ``memory_budget`` of :func:`streamed_nearest_neighbours`
DEFAULT_MEMORY_BUDGET = 2**30
_CANDIDATE_BYTES = 128  # temporaries per candidate of a query row inside a call (values, bounds, indices, masks)
_WIDEST = 8  # candidates of the widest search per row: 8 (k + EXTRA_CANDIDATES) (knn.WIDENING, in batches)
_PAD = np.iinfo(np.int64).max  # index of an empty place in a neighbour list: sorts after every support row
_RESCUE_ROWS = 128  # query rows per bfloat16 product of the rows searched again in a block (padded)
_THREAD_PAIRS = 256  # float64 re-measurements per thread at least, else one thread
_KEPT_BYTES = 25  # per kept candidate of a query row: its bounds L and U, its index, the live mask


@dataclass(frozen=True)
class StreamPlan:
    """How :func:`streamed_nearest_neighbours` splits the work: ``support_rows`` per block, ``query_rows`` per
    query group, ``chunk_rows`` per internal chunk (the ``chunk_size`` of the searches), the number of blocks and
    query groups, and ``estimate``, the bytes the search holds at most (module docstring), within the budget."""

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
    """The memory estimate (bytes) of the search on a block of ``support_rows`` and a group of ``query_rows``
    (module docstring)."""
    per_support, per_query, per_chunk, value_bytes, full = _costs(
        support_rows, n_features, k, precision, support_itemsize, query_itemsize, host
    )
    values = min(full, chunk_rows * support_rows)
    return support_rows * per_support + query_rows * per_query + chunk_rows * per_chunk + values * value_bytes


def _n_kept(k: int, precision: str) -> int:
    """Candidates kept per query row across the blocks: those of one bfloat16 or float32 search."""
    return k + (BF16_EXTRA_CANDIDATES if precision in ("auto", "bf16") else EXTRA_CANDIDATES)


def _costs(
    support_rows: int, d: int, k: int, precision: str, support_itemsize: int, query_itemsize: int, host: bool
) -> tuple[int, int, int, int, int]:
    """Bytes per support row, per query row, per internal chunk row, per product value, and the product buffer's
    largest size in values (module docstring)."""
    bf16 = precision in ("auto", "bf16")
    centred = 8 * d if precision == "fp64" else 4 * d + (2 * _bf16_depth(d) if bf16 else 0)
    per_support = d * support_itemsize * (1 if host else 2) + centred + 64
    if host:  # the group's rows, or (bfloat16, until the second pass) their bfloat16 copy; the kept candidates
        prepared = max(d * query_itemsize, 2 * _bf16_depth(d) + 16 if bf16 else 0)
        per_query = prepared + _KEPT_BYTES * _n_kept(k, precision) + 80 * k + 64
    else:  # the calls of nearest_neighbours: the query chunk read into memory, the neighbour lists and the merge
        per_query = d * query_itemsize + 80 * k + 16
    candidates = min(_WIDEST * (k + EXTRA_CANDIDATES), support_rows)  # a search has at most the block's rows
    copy = query_itemsize if host else 0  # the rows of a chunk copied for a call (rows not proven)
    per_chunk = d * ((8 if precision == "fp64" else 4) + 2 + copy) + _CANDIDATE_BYTES * candidates
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
    """The block and group sizes for a budget: the query group gets at most half of it (a quarter on a device),
    the internal chunk a quarter, the support block the rest (the most rows with :func:`call_bytes` within the
    budget). ``ValueError`` when the budget cannot hold one support row and one query row."""
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
    query_rows = max(1, min(n_query, budget // (2 if host else 4) // call_bytes(0, 1, 0, **sizes)))
    chunk_row = _costs(n_support, n_features, k, precision, support_itemsize, query_itemsize, host)[2]
    chunk_rows = max(1, min(query_rows, _CHUNK_ROWS if host else _DEVICE_CHUNK_ROWS, budget // 4 // chunk_row))
    support_rows = _block_rows(budget, n_support, query_rows, chunk_rows, sizes)
    if support_rows < 1:  # no room for a half and a quarter: one query row at a time
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
    :func:`~difficulty_widget.measures.knn.nearest_neighbours` (rule, search and memory: module docstring), with
    the support set read in blocks of rows.

    ``query`` and ``support`` are 2-D numeric arrays, ``np.memmap`` included, or objects with ``shape``, a numpy
    ``dtype`` and row slicing (read only as ``x[a:b]``). ``exclude_self``: ``True`` (the queries are the support
    set) or per query the support row that is the query itself (``-1``: none). ``memory_budget``: bytes, or a
    string such as ``"512MiB"`` or ``"2GB"``; it sets the rows per support block and per query group
    (:func:`plan_stream`). ``precision`` and ``device`` are those of ``nearest_neighbours``. With several blocks
    on the CPU the result's ``precision`` is that of the streamed candidate search, ``first_rows`` counts the
    rows it proved, ``widened_rows`` the others (searched again block by block), ``remeasured_rows`` the proved
    rows with more than ``k`` candidates to re-measure, plus the counters of the searches of the other rows
    (``fallback_rows``, ``rechecked_rows``, ``remeasured_rows``: summed over their calls, one per block). With
    one block, or on a device, the calls of ``nearest_neighbours`` on the blocks give the result: its
    ``precision`` is then the set of precisions they used, joined by ``"+"`` in the order of
    :data:`~difficulty_widget.measures.knn.PRECISIONS`, and its counters are summed over the calls. The
    distances are exact (``error_bounds`` is None). ``progress``: a tqdm bar over the support blocks read.
    Inputs are checked before any block is read; NaN or infinite values are found block by block.

    Example::

        support = np.load("train_probe.npy", mmap_mode="r")  # 1.2M x 2048 float32: 9.8 GB on disk
        query = np.load("val_probe.npy", mmap_mode="r")
        nn = streamed_nearest_neighbours(query, support, k=30, memory_budget="2GiB")
        nn.indices, nn.sq_distances  # (n_query, 30): the same as nearest_neighbours on the arrays in memory
    """
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
    if plan.n_blocks == 1 or not _is_host(device):
        return _blockwise(query, support, k, own, plan, precision, device, progress)
    with _ieee_float32():
        return _Stream(query, support, k, own, plan, precision, progress).run()


def _blockwise(
    query: Any, support: Any, k: int, own: np.ndarray | None, plan: StreamPlan, precision: str, device: Any,
    progress: bool,
) -> Neighbours:  # fmt: skip
    """The search as calls of ``nearest_neighbours`` on every support block and query group, merged (module
    docstring: one block, or a device)."""
    from tqdm.auto import tqdm

    n_q, n_s = query.shape[0], support.shape[0]
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
            part_own = None if own is None else own[q_lo:q_hi]
            _search_block(chunk, part_own, np.arange(q_lo, q_hi), block, lo, k, plan.chunk_rows, precision,
                          device, best_idx, best_d, tally)  # fmt: skip
    return tally.result(best_idx, best_d)


def _search_block(
    part: np.ndarray, own: np.ndarray | None, targets: np.ndarray, block: np.ndarray, lo: int, k: int,
    chunk_rows: int, precision: str, device: Any, best_idx: np.ndarray, best_d: np.ndarray, tally: _Tally,
    fields: tuple[str, ...] | None = None,
) -> None:  # fmt: skip
    """``nearest_neighbours`` of query rows ``part`` (own rows ``own``, global) on the support rows ``block``
    (from row ``lo``), merged into rows ``targets`` of the lists; the calls' counters (``fields``, default all)
    and precisions go to ``tally``."""
    hi = lo + len(block)
    local = None if own is None else _local_own(own, lo, hi)
    for rows, own_arg, k_block in _calls(local, hi - lo, k):
        found = nearest_neighbours(part if rows is None else part[rows], block, k_block, exclude_self=own_arg,
                                   exact_distances=True, chunk_size=chunk_rows, precision=precision,
                                   device=device)  # fmt: skip
        _merge(best_idx, best_d, targets if rows is None else targets[rows], found.indices + lo, found.sq_distances)
        tally.add(found, fields)


class _Stream:
    """The streamed search on the CPU with several support blocks (module docstring): the centre, the precision,
    and per query group the candidate pass over the blocks, the proof, and the pass that re-measures the
    candidates and searches the rows not proven."""

    def __init__(
        self, query: Any, support: Any, k: int, own: np.ndarray | None, plan: StreamPlan, precision: str,
        progress: bool,
    ):  # fmt: skip
        import torch
        from tqdm.auto import tqdm

        self.query, self.support, self.k, self.own, self.plan = query, support, k, own, plan
        self.requested = precision
        self.dev = torch.device("cpu")
        n_s, self.d = support.shape
        self.blocks = [(lo, min(n_s, lo + plan.support_rows)) for lo in range(0, n_s, plan.support_rows)]
        self.rows = min(plan.chunk_rows, query.shape[0])
        self.s_buffer, self.q_buffer = _Buffer(support, plan.support_rows), _Buffer(query, plan.query_rows)
        self.q_chunk = _Buffer(query, self.rows)  # the rows of one internal chunk
        # support columns per product: the whole block when rows x block fits the buffer, else equal column blocks
        n_columns = -(-plan.support_rows // max(1, _BLOCK_DISTANCES // self.rows))
        self.width = -(-plan.support_rows // n_columns)
        self.tally = _Tally()
        total = 2 * len(self.blocks) * plan.n_query_chunks
        self.bar = tqdm(total=total, desc="k-NN support blocks", unit="block", disable=not progress, leave=False)
        self.norms = np.empty(n_s, dtype=np.float64)  # the centred support rows' float64 norms, sorted after pass 1
        self.rho16 = 0.0  # the largest residual share of the bfloat16 support rows
        self.buffer: Any = None
        self.threads, self.pool = max(1, torch.get_num_threads()), None

    def run(self) -> Neighbours:
        try:
            return self._run()
        finally:
            self.bar.close()
            if self.pool is not None:
                self.pool.shutdown()

    def _run(self) -> Neighbours:
        n_q = self.query.shape[0]
        best_idx = np.empty((n_q, self.k), dtype=np.int64)
        best_d = np.empty((n_q, self.k), dtype=np.float64)
        first: np.ndarray | None = self._read_block(0)
        self.centre32 = _centre(first, self.dev)
        self._choose_precision(first)
        for g_lo in range(0, n_q, self.plan.query_rows):
            if self.buffer is None:
                self.buffer = self._product_buffer()
            group = _Group(self, g_lo, min(n_q, g_lo + self.plan.query_rows))
            for b, (lo, _) in enumerate(self.blocks):
                block = first if first is not None else self._read_block(b)
                first = None
                group.add(lo, self._prepare(block, lo if g_lo == 0 else None))
                self._done(block)
                self.bar.update()
            if g_lo == 0:
                self.norms.sort()
            proven = group.prove()
            self.buffer = group.q16 = None  # freed for the second pass
            self._second_pass(group, proven, best_idx[group.lo : group.hi], best_d[group.lo : group.hi])
            self.q_buffer.array = None
        self.tally.precisions = {self.kind}
        return self.tally.result(best_idx, best_d)

    def _read_block(self, b: int, check: bool = True) -> np.ndarray:
        """Block ``b`` in memory, checked for NaN and infinite values (``check``: the first time it is read): the
        rows of a memmap that can let its pages go are used where they are mapped (pages released by
        :meth:`_done`), the others read as by :func:`_read_rows`."""
        lo, hi = self.blocks[b]
        block = self.support[lo:hi] if _releasable(self.support) else _read_rows(self.support, lo, hi, self.s_buffer)
        if check:
            check_features(block, "support")
        return block

    def _read_queries(self, lo: int, hi: int, buffer: _Buffer) -> np.ndarray:
        """Query rows ``lo:hi`` in memory, as support blocks are (:meth:`_read_block`; ``buffer`` for a copy)."""
        return self.query[lo:hi] if _releasable(self.query) else _read_rows(self.query, lo, hi, buffer)

    def _done(self, rows: np.ndarray) -> None:
        """The search is done with ``rows`` (from :meth:`_read_block` or :meth:`_read_queries`): the pages of a
        memmap's rows let go."""
        if isinstance(rows, np.memmap) and _releasable(rows):
            _release_pages(rows)

    def _choose_precision(self, first: np.ndarray) -> None:
        """The precision of the candidate search and its constants: ``"auto"`` as in ``nearest_neighbours``, with
        the trial of its first 256 queries run against the first block alone."""
        import torch

        requested, dev, d = self.requested, self.dev, self.d
        self.depth16 = _bf16_depth(d)
        self.kind = "fp64" if requested == "fp64" else "fp32"
        if requested == "bf16" or (requested == "auto" and _bf16_pays(dev, d, self.query.shape[0])):
            if _bf16_sums_in_float32(dev, self.rows, self.width, self.depth16):
                self.kind = "bf16"
            elif requested == "bf16":
                raise ValueError(
                    f"precision='bf16': bfloat16 products on {dev} do not keep their sums in float32, so no "
                    "bound holds for them; use precision='fp32'"
                )
        self.n_cand = _n_kept(self.k, "bf16" if self.kind == "bf16" else "fp32")
        self.dtype = torch.float64 if self.kind == "fp64" else torch.float32
        unit = _UNIT_ROUNDOFF64 if self.kind == "fp64" else _UNIT_ROUNDOFF32
        self.coef = (d + 8) * unit / (1 - (d + 8) * unit) if d < 2**22 else np.inf
        # query rows per product of the rows searched again with more candidates in a block (0: none)
        self.rescue_rows = min(_RESCUE_ROWS, self.rows)
        if self.kind == "bf16":
            self.c_sum, self.c_value = _bf16_constants(dev, self.depth16)
            if not _bf16_sums_in_float32(dev, self.rescue_rows, self.width, self.depth16):
                self.rescue_rows = 0
            trial = requested == "auto" and self.rows > _BF16_TRIAL_ROWS
            if trial and _bf16_sums_in_float32(dev, _BF16_TRIAL_ROWS, self.width, self.depth16):
                self._trial(first)

    def _product_buffer(self) -> Any:
        """The buffer of the candidate search's products (one, reused for every block)."""
        import torch

        return torch.empty(self.rows * self.width, dtype=torch.bfloat16 if self.kind == "bf16" else self.dtype)

    def _trial(self, first: np.ndarray) -> None:
        """``"auto"``: the first bfloat16 search, of the first 256 queries against the first block as if it were
        the support set; float32 when it proves under 80% of them."""
        import torch

        self.buffer = torch.empty(_BF16_TRIAL_ROWS * self.width, dtype=torch.bfloat16)
        group = _Group(self, 0, _BF16_TRIAL_ROWS)
        norms, self.norms = self.norms, np.empty(len(first), dtype=np.float64)
        group.add(0, self._prepare(first, 0))
        self.norms.sort()
        proven = group.prove()
        self.norms, self.rho16, self.buffer = norms, 0.0, None
        if proven.sum() < _BF16_MIN_CERTIFIED * _BF16_TRIAL_ROWS:
            self.kind, self.n_cand = "fp32", _n_kept(self.k, "fp32")
            self.rescue_rows = min(_RESCUE_ROWS, self.rows)

    def _prepare(self, block: np.ndarray, lo: int | None) -> _Block:
        """The block's centred rows in the search's precision, their norms and constants; with ``lo`` (the first
        group) their norms go to ``self.norms`` from row ``lo``."""
        import torch

        if self.kind == "bf16":
            s16, nu, r16 = _bf16_support(block, self.centre32, self.dev, self.depth16)
            rho = _largest_share(r16, nu)
            prepared = _Block(nu=nu, rows=s16, r16=r16)
        else:
            s_float, nu = _float_support(block, self.centre32, self.dev, self.dtype)
            prepared = _Block(nu=nu, rows=s_float, s_sq=torch.from_numpy(nu * nu).to(self.dev, self.dtype))
            rho = 0.0
        prepared.eta = (self.d + 2) * 2.0**-120 * (1 + float(nu.max()))  # per query row: times (1 + |x|)
        prepared.rho, prepared.sorted_nu = rho, np.sort(nu)
        if lo is not None:
            self.norms[lo : lo + len(nu)] = nu
            self.rho16 = max(self.rho16, rho)
        return prepared

    def _measure(self, raw: np.ndarray, q_rows: np.ndarray, block: np.ndarray, s_rows: np.ndarray) -> np.ndarray:
        """The float64 distances of the pairs (``raw[q_rows]``, ``block[s_rows]``) by
        :func:`~difficulty_widget.measures.knn._pair_sq_dist` (the in-memory engine's operations, bit for bit),
        split between torch's threads (numpy lets them run together; nothing else runs in the second pass)."""
        threads = self.threads if len(q_rows) >= _THREAD_PAIRS * self.threads else 1
        if threads == 1:
            return _pair_sq_dist(raw, q_rows, block, s_rows)
        if self.pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self.pool = ThreadPoolExecutor(self.threads)
        cuts = np.linspace(0, len(q_rows), threads + 1).astype(np.int64)
        parts = [slice(int(a), int(z)) for a, z in itertools.pairwise(cuts)]
        done = self.pool.map(lambda p: _pair_sq_dist(raw, q_rows[p], block, s_rows[p]), parts)
        return np.concatenate(list(done))

    def _second_pass(self, group: _Group, proven: np.ndarray, best_idx: np.ndarray, best_d: np.ndarray) -> None:
        """The blocks again: the float64 distances of the proven rows' live candidates, and the search of the
        other rows by calls of ``nearest_neighbours`` on each block (float32, or float64 for ``"fp64"``), merged;
        then each proven row's first ``k`` by (distance, index)."""
        k, rows = self.k, self.rows
        parts = [slice(c * rows, c * rows + len(kept.index)) for c, kept in enumerate(group.chunks)]
        for kept, part in zip(group.chunks, parts, strict=True):
            kept.live &= proven[part, None]
            kept.lower, kept.distances, kept.upper = None, kept.upper, None  # the upper bounds' place reused
            kept.distances.fill(np.inf)
        raw = group.raw if group.raw is not None else self._read_queries(group.lo, group.hi, self.q_buffer)
        failed = np.flatnonzero(~proven)
        fail_idx = np.full((len(failed), k), _PAD, dtype=np.int64)
        fail_d = np.full((len(failed), k), np.inf, dtype=np.float64)
        precision = "fp64" if self.requested == "fp64" else "fp32"
        for b, (lo, hi) in enumerate(self.blocks):
            block = self._read_block(b, check=False)
            for kept, part in zip(group.chunks, parts, strict=True):
                r, col = np.nonzero(kept.live & (kept.index >= lo) & (kept.index < hi))
                if len(r):
                    found = kept.index[r, col] - lo
                    kept.distances[r, col] = self._measure(np.asarray(raw), part.start + r, np.asarray(block), found)
            for i in range(0, len(failed), rows):  # the rows not proven, a chunk at a time
                batch = failed[i : i + rows]
                own = None if group.own is None else group.own[batch]
                _search_block(raw[batch], own, np.arange(i, i + len(batch)), block, lo, k, self.plan.chunk_rows,
                              precision, None, fail_idx, fail_d, self.tally,
                              ("fallback_rows", "rechecked_rows", "remeasured_rows"))  # fmt: skip
            self._done(block)
            self.bar.update()
        self._done(raw)
        best_idx[failed], best_d[failed] = fail_idx, fail_d
        for kept, part in zip(group.chunks, parts, strict=True):
            done = np.flatnonzero(proven[part])
            index = np.where(kept.live[done], kept.index[done], _PAD)
            first = np.lexsort((index, kept.distances[done]), axis=-1)[:, :k]  # by distance, then index
            best_idx[part.start + done] = np.take_along_axis(index, first, 1)
            best_d[part.start + done] = np.take_along_axis(kept.distances[done], first, 1)
        self.tally.counts["first_rows"] += int(proven.sum())
        self.tally.counts["widened_rows"] += len(failed)
        self.tally.counts["remeasured_rows"] += int((proven & (group.n_live > k)).sum())


@dataclass
class _Block:
    """A support block prepared for the candidate search: its centred rows (bfloat16, augmented; or in the
    float precision, with their squared norms ``s_sq``), their float64 norms ``nu``, the bfloat16 residual
    norms ``r16`` and their largest share ``rho`` of the norms, ``eta``, the underflow term's constant, and
    ``sorted_nu``, the norms in ascending order."""

    nu: np.ndarray
    rows: Any
    r16: np.ndarray | None = None
    s_sq: Any = None
    eta: float = 0.0
    rho: float = 0.0
    sorted_nu: Any = None


def _rows_of(constants: tuple, rows: np.ndarray) -> tuple:
    """The proof's constants (:func:`~difficulty_widget.measures.knn._no_outsider`) for some rows: per-row
    arrays taken at ``rows``, numbers as they are."""
    return tuple(c[rows] if isinstance(c, np.ndarray) else c for c in constants)


def _centre(block: np.ndarray, dev: Any) -> Any:
    """The centre of every block: the first block's mean rounded to float32 (zero where centring would shrink
    the norms by under 5%), as ``nearest_neighbours`` chooses it for a support set."""
    import torch

    sample_mean_sq, spread = _sample_moments(block, dev)
    if sample_mean_sq > _CENTRE_GAIN * spread or not np.isfinite(spread):
        return _mean(block, dev).float()
    return torch.zeros(block.shape[1], dtype=torch.float32, device=dev)


class _Kept:
    """The kept candidates of the query rows of one internal chunk: bounds ``lower`` and ``upper`` on their
    distances and their support ``index`` (rows x places, as many places as the most any row keeps; empty
    places hold ``inf`` and ``_PAD``); after the proof, ``live``: those to re-measure, and in the second pass
    their float64 ``distances`` (in the place of ``upper``)."""

    def __init__(self, n: int):
        self.lower: Any = np.empty((n, 0))
        self.upper: Any = np.empty((n, 0))
        self.index = np.empty((n, 0), dtype=np.int64)
        self.live = np.empty((n, 0), dtype=bool)
        self.distances: Any = None

    def put(self, rows: np.ndarray, lower: np.ndarray, upper: np.ndarray, index: np.ndarray) -> None:
        """New kept candidates of ``rows`` (the others keep theirs; as many places as the most any row keeps)."""
        width, new = self.lower.shape[1], lower.shape[1]
        if len(rows) == len(self.lower):
            self.lower, self.upper, self.index = lower, upper, index
            return
        if new > width:
            pad = ((0, 0), (0, new - width))
            self.lower, self.upper = (
                np.pad(self.lower, pad, constant_values=np.inf),
                np.pad(self.upper, pad, constant_values=np.inf),
            )
            self.index = np.pad(self.index, pad, constant_values=_PAD)
        elif new < width:
            pad = ((0, 0), (0, width - new))
            lower, upper = np.pad(lower, pad, constant_values=np.inf), np.pad(upper, pad, constant_values=np.inf)
            index = np.pad(index, pad, constant_values=_PAD)
        self.lower[rows], self.upper[rows], self.index[rows] = lower, upper, index

    def drop(self, rows: np.ndarray, lo: int, hi: int) -> None:
        """Let the candidates of ``rows`` from support rows ``lo:hi`` go (they are searched again)."""
        mine = (self.index[rows] >= lo) & (self.index[rows] < hi)
        self.lower[rows] = np.where(mine, np.inf, self.lower[rows])
        self.upper[rows] = np.where(mine, np.inf, self.upper[rows])
        self.index[rows] = np.where(mine, _PAD, self.index[rows])


class _Group:
    """The candidates of query rows ``lo:hi`` across the blocks (module docstring): per row the kept candidates
    (``chunks``, one :class:`_Kept` per internal chunk), the bound ``kth`` on its k-th neighbour's distance, the
    least value ``floor`` that a support row outside the candidates of a block not proven free of outsiders can
    have, the least lower bound ``cut`` of a candidate let go for want of room, and whether its arithmetic
    stayed finite (``ok``); ``n_sel``, the candidates the next block gives each row. The query rows are read
    here: in bfloat16 once into ``q16`` (the rows themselves are read again for the second pass), in the float
    precisions into ``raw``, centred again for each block."""

    def __init__(self, stream: _Stream, lo: int, hi: int):
        import torch

        self.stream, self.lo, self.hi = stream, lo, hi
        self.own = None if stream.own is None else stream.own[lo:hi]
        n, rows = hi - lo, stream.rows
        self.chunks = [_Kept(min(rows, n - i)) for i in range(0, n, rows)]
        self.kth, self.floor, self.cut = np.full(n, np.inf), np.full(n, np.inf), np.full(n, np.inf)
        self.ok = np.ones(n, dtype=bool)
        self.n_sel = stream.n_cand
        self.mu = np.empty(n, dtype=np.float64)
        self.r_q = np.zeros(n, dtype=np.float64)
        self.q16 = self.raw = None
        if stream.kind == "bf16":  # the bfloat16 rows, made once for all blocks
            self.q16 = torch.empty((n, stream.depth16), dtype=torch.bfloat16)
            r_q = torch.from_numpy(self.r_q)
            for i in range(0, n, rows):
                part = stream._read_queries(lo + i, min(hi, lo + i + rows), stream.q_chunk)
                q_float, mu = _centred(check_features(part, "query"), stream.centre32, stream.dev)
                stream._done(part)
                self.mu[i : i + rows] = mu.numpy()
                _augmented_bf16(q_float, mu, support=False, out=self.q16[i : i + rows], residuals=r_q[i : i + rows])
        else:
            self.raw = stream._read_queries(lo, hi, stream.q_buffer)
            check_features(self.raw, "query")
            for i in range(0, n, rows):
                self.mu[i : i + rows] = _centred(self.raw[i : i + rows], stream.centre32, stream.dev)[1].numpy()

    def add(self, lo: int, block: _Block) -> None:
        """The candidates among the support rows of ``block`` (from row ``lo``), merged into the kept ones: the
        ``n_sel`` smallest values of each row, and the ``n_cand`` smallest for the rows whose candidates do not
        prove that no other row of the block is among their neighbours (module docstring)."""
        stream, rows = self.stream, self.stream.rows
        n_block = len(block.nu)
        n_sel, widest = min(self.n_sel, n_block), min(stream.n_cand, n_block)
        passing = np.zeros(len(self.mu), dtype=np.int64)
        again = []
        for c, kept in enumerate(self.chunks):
            part = np.arange(c * rows, c * rows + len(kept.lower))
            every = np.arange(len(part))
            found = self._search(part, lo, block, n_sel)
            passing[part], failed = self._merge(kept, every, part, *found)
            if n_sel < widest and stream.rescue_rows and failed.size:
                kept.drop(failed, lo, lo + n_block)
                again.append(part[failed])
            else:
                self.floor[part[failed]] = np.minimum(self.floor[part[failed]], found[4][failed])
        again = np.concatenate(again) if again else np.empty(0, dtype=np.int64)
        for i in range(0, len(again), stream.rescue_rows):
            batch = again[i : i + stream.rescue_rows]
            found = self._search(batch, lo, block, widest, pad=stream.kind == "bf16")
            for c, kept in enumerate(self.chunks):
                mine = np.flatnonzero((batch >= c * rows) & (batch < c * rows + len(kept.lower)))
                if mine.size:
                    sub = (*(a[mine] for a in found[:6]), _rows_of(found[6], mine), found[7])
                    failed = self._merge(kept, batch[mine] - c * rows, batch[mine], *sub)[1]
                    last, failed = sub[4][failed], batch[mine][failed]
                    self.floor[failed] = np.minimum(self.floor[failed], last)
        # the next block: twice the candidates that 99% of the rows needed here
        self.n_sel = int(min(stream.n_cand, max(EXTRA_CANDIDATES, 2 * np.ceil(np.quantile(passing, 0.99)))))

    def _search(self, rows: np.ndarray, lo: int, block: _Block, n_sel: int, pad: bool = False) -> tuple:
        """The ``n_sel`` smallest values of group ``rows`` among the support rows of ``block`` (from row ``lo``)
        and their bounds: (values ascending, support rows, bounds, real: not the row itself, the value that the
        block's other rows reach at least (inf: none), and the constants of the proof for them). ``pad``: a
        bfloat16 product of ``rescue_rows`` rows whatever their number (the shape checked once)."""
        import torch

        stream = self.stream
        n_block = len(block.nu)
        mu = self.mu[rows]
        contiguous = len(rows) and rows[-1] - rows[0] == len(rows) - 1
        local = None if self.own is None else _local_own(self.own[rows], lo, lo + n_block)
        own = None if local is None or not (local >= 0).any() else torch.from_numpy(local)
        if stream.kind == "bf16":
            q16 = self.q16[rows[0] : rows[-1] + 1] if contiguous else self.q16[torch.from_numpy(rows)]
            extra = stream.rescue_rows - len(rows) if pad else 0
            if extra > 0:  # zero rows after the real ones
                q16 = torch.cat([q16, q16.new_zeros((extra, q16.shape[1]))])
                own = None if own is None else torch.cat([own, own.new_full((extra,), -1)])
            vals, cand = _smallest_bf16(q16, block.rows, n_sel, stream.width, stream.buffer, own)
            vals, cand = vals[: len(rows)].double().numpy(), cand[: len(rows)].numpy()  # |x|^2 is in the product
            eta = block.eta * (1 + mu)
            err = _bf16_errors(vals, mu, self.r_q[rows], block.nu[cand], block.r16[cand], eta, stream.c_sum,
                               stream.c_value)  # fmt: skip
            constants = (stream.c_sum, 1 - stream.c_value, _bf16_slope(mu, self.r_q[rows], block.rho))
        else:
            part = self.raw[rows[0] : rows[-1] + 1] if contiguous else self.raw[rows]
            q_float, _ = _centred(part, stream.centre32, stream.dev, stream.dtype)
            vals, cand = _smallest32(q_float, block.rows, block.s_sq, n_sel, stream.width, stream.buffer, own)
            vals, cand = vals.double().numpy() + (mu * mu)[:, None], cand.numpy()
            eta = block.eta * (1 + mu)
            err = stream.coef * (mu[:, None] + block.nu[cand]) ** 2 + eta[:, None]
            constants = (stream.coef, 1.0)
        available = n_block - (0 if local is None else (local >= 0))
        # every row of the block left out has a value at least the last candidate's (none left out: inf)
        last = np.where(vals.shape[1] >= available, np.inf, vals[:, -1])
        # the own row is a candidate only where the block is whole: not a neighbour
        real = np.ones(vals.shape, dtype=bool) if local is None else cand != local[:, None]
        return vals, cand + lo, err, real, last, eta, constants, block.sorted_nu

    def _merge(
        self, kept: _Kept, rows: np.ndarray, group_rows: np.ndarray, vals: np.ndarray, index: np.ndarray,
        err: np.ndarray, real: np.ndarray, last: np.ndarray, eta: np.ndarray, constants: tuple,
        sorted_nu: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """Merge the candidates of one block for ``rows`` of ``kept`` (``group_rows`` in the group; from
        :meth:`_search`) into their kept ones (module docstring). Returns per row the number of candidates
        that can be neighbours, and the rows (positions in ``rows``) whose candidates do not prove that no
        other row of the block is a neighbour."""
        k, n_cand = self.stream.k, self.stream.n_cand
        self.ok[group_rows] &= (np.isfinite(vals) | ~real).all(axis=1) & (np.isfinite(err) | ~real).all(axis=1)
        kth = self.kth[group_rows]
        with np.errstate(invalid="ignore"):  # inf - inf where the own row (not real) is a candidate
            lower, upper = vals - err, vals + err
        passing = real & (lower <= kth[:, None])  # the others are out: D >= L > kth
        count = passing.sum(axis=1)
        width = int(count.max(initial=0))
        if width:
            if width < passing.shape[1]:
                order = np.argsort(~passing, axis=1, kind="stable")[:, :width]
                lower, upper, index, passing = (np.take_along_axis(a, order, 1) for a in (lower, upper, index, passing))
            lower = np.concatenate([kept.lower[rows], np.where(passing, lower, np.inf)], axis=1)
            upper = np.concatenate([kept.upper[rows], np.where(passing, upper, np.inf)], axis=1)
            index = np.concatenate([kept.index[rows], np.where(passing, index, _PAD)], axis=1)
            if upper.shape[1] >= k:
                kth = np.minimum(kth, np.partition(upper, k - 1, axis=1)[:, k - 1])
            keep = (lower <= kth[:, None]) & (index != _PAD)
            width = int(keep.sum(axis=1).max())
            if width > n_cand:  # the n_cand smallest lower bounds stay; the next one is the cut
                kept_lower = np.where(keep, lower, np.inf)
                order = np.argpartition(kept_lower, n_cand, axis=1)
                cut = np.take_along_axis(kept_lower, order[:, n_cand:], 1).min(axis=1)
                self.cut[group_rows] = np.minimum(self.cut[group_rows], cut)
                order = order[:, :n_cand]
            else:
                order = np.argsort(~keep, axis=1, kind="stable")[:, :width]
            keep = np.take_along_axis(keep, order, 1)
            kept.put(rows, np.where(keep, np.take_along_axis(lower, order, 1), np.inf),
                     np.where(keep, np.take_along_axis(upper, order, 1), np.inf),
                     np.where(keep, np.take_along_axis(index, order, 1), _PAD))  # fmt: skip
            self.kth[group_rows] = kth
        # the block's other rows are out when no norm of theirs allows a distance <= kth (it only decreases)
        outside = np.flatnonzero(np.isfinite(last))
        clear = np.ones(len(last), dtype=bool)
        if outside.size:
            slope = () if len(constants) == 2 else (constants[2][outside],)
            clear[outside] = _no_outsider(sorted_nu, self.mu[group_rows[outside]], last[outside], kth[outside],
                                          eta[outside], *constants[:2], *slope)  # fmt: skip
        return count, np.flatnonzero(~clear)

    def prove(self) -> np.ndarray:
        """Per row, whether its kept candidates hold its ``k`` nearest (module docstring); sets each chunk's
        ``live``, the candidates whose lower bound reaches ``kth`` (those to re-measure)."""
        stream, mu, rows = self.stream, self.mu, self.stream.rows
        self.n_live = np.zeros(len(mu), dtype=np.int64)
        for c, kept in enumerate(self.chunks):
            part = slice(c * rows, c * rows + len(kept.lower))
            kept.live = (kept.lower <= self.kth[part, None]) & (kept.index != _PAD)
            self.n_live[part] = kept.live.sum(axis=1)
        nu_max = float(stream.norms[-1])
        eta = (stream.d + 2) * 2.0**-120 * (1 + nu_max) * (1 + mu)
        # no overflow anywhere in the row's arithmetic when (|x| + max |y|)^2 < 2^120
        proven = self.ok & (mu + nu_max < 2.0**60) & np.isfinite(self.kth) & (self.n_live >= stream.k)
        proven &= self.cut > self.kth  # every candidate let go is out
        outsiders = proven & np.isfinite(self.floor)  # rows with outsiders not ruled out block by block
        if outsiders.any():
            rows = np.flatnonzero(outsiders)
            if stream.kind == "bf16":
                slope = _bf16_slope(mu[rows], self.r_q[rows], stream.rho16)
                constants = (stream.c_sum, 1 - stream.c_value, slope)
            else:
                constants = (stream.coef, 1.0)
            proven[rows] = _no_outsider(stream.norms, mu[rows], self.floor[rows], self.kth[rows], eta[rows],
                                        *constants)  # fmt: skip
        return proven


def _parse_budget(memory_budget: Any) -> int:
    """Bytes of ``memory_budget`` (``None``: the default), via :func:`difficulty_widget.extract.plan.parse_bytes`."""
    from ..extract.plan import parse_bytes

    return parse_bytes(DEFAULT_MEMORY_BUDGET if memory_budget is None else memory_budget, "memory_budget")


def _device(device: Any) -> Any:
    return check_device(device)


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


def _releasable(x: Any) -> bool:
    """Whether ``x`` is a memmap whose mapped pages :func:`_release_pages` lets go."""
    mapped = isinstance(x, np.memmap) and getattr(x, "_mmap", None) is not None
    return mapped and getattr(x, "mode", "c") != "c" and hasattr(mmap, "MADV_DONTNEED")


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

    def add(self, found: Neighbours, fields: tuple[str, ...] | None = None) -> None:
        for name in self._FIELDS if fields is None else fields:
            self.counts[name] += getattr(found, name)
        self.precisions.update(found.precision.split("+"))

    def result(self, indices: np.ndarray, sq_distances: np.ndarray) -> Neighbours:
        precision = "+".join(p for p in PRECISIONS if p in self.precisions)
        return Neighbours(indices=indices, sq_distances=sq_distances, precision=precision, **self.counts)
