"""The streamed exact k-NN search (support set read in row blocks under a memory budget) against an independent
float64 brute force (numpy, one query at a time, a stable argsort of ``((s - q) ** 2).sum(1)``) and against the
in-memory engine: random data, tie-heavy integer grids, rows duplicated across blocks, own rows, k = 1 and
k = n_support - 1, memory-mapped support sets, budgets that force many blocks, every candidate precision, and real
activations; each both through the streamed proof and with the proof refused for half the rows (those searched
again block by block). Also: rows searched again with more candidates in a block, the automatic precision's
trial, the plan, the checks of the inputs, and that a memmap is read in blocks and its pages let go."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_knn import brute

from difficulty_widget.measures import knn, knn_streamed
from difficulty_widget.measures.knn import nearest_neighbours
from difficulty_widget.measures.knn_streamed import call_bytes, plan_stream, streamed_nearest_neighbours

K = 7
needs_bf16 = pytest.mark.skipif(
    not knn._bf16_sums_in_float32(torch.device("cpu"), 64, 64, 32),
    reason="bfloat16 products here do not sum in float32",
)


def activations(rng, n, d, n_clusters=8):
    """ReLU-like clustered float32 rows (the same clusters for every call)."""
    centres = np.random.default_rng(99).normal(size=(n_clusters, d))
    return np.maximum(centres[rng.integers(0, n_clusters, n)] + rng.normal(scale=0.7, size=(n, d)), 0).astype(
        np.float32
    )


def budget_for(query, support, k, blocks, precision="fp32"):
    """The largest budget (bytes) whose plan has at least ``blocks`` support blocks."""
    lo, hi = call_bytes(1, 1, 1, support.shape[1], k, precision=precision, support_itemsize=8, query_itemsize=8), 2**34
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if plan(query, support, k, mid, precision).n_blocks >= blocks else (lo, mid)
    return lo


def plan(query, support, k, budget, precision="fp32"):
    """The streamed search's plan for these arrays."""
    return plan_stream(len(query), len(support), support.shape[1], k, budget, precision=precision,
                       support_itemsize=support.dtype.itemsize, query_itemsize=query.dtype.itemsize)  # fmt: skip


@pytest.fixture()
def calls(monkeypatch):
    """Every call of the in-memory engine by the streamed search: (query rows, support rows, k)."""
    seen = []

    def counted(query, support, k, **kwargs):
        seen.append((len(query), len(support), k))
        return nearest_neighbours(query, support, k, **kwargs)

    monkeypatch.setattr(knn_streamed, "nearest_neighbours", counted)
    return seen


def refuse_proof(monkeypatch, every=2):
    """Refuse the streamed search's proof for every ``every``-th query row (from row 0), as if its candidates could
    not prove its neighbours: those rows are searched again block by block by the in-memory engine."""
    prove = knn_streamed._Group.prove

    def refused(self):
        proven = prove(self)
        proven[np.arange(self.lo, self.hi) % every == 0] = False
        return proven

    monkeypatch.setattr(knn_streamed._Group, "prove", refused)


@pytest.fixture(params=["proved", "searched again"])
def unproven(request, monkeypatch):
    """Both ways to the answer: the streamed proof, and (``"searched again"``) half the rows refused it."""
    if request.param == "searched again":
        refuse_proof(monkeypatch)
    return request.param


def check(got, query, support, k, own=None, precision="fp32"):
    """``got`` is the brute force's answer and the in-memory engine's, ordered, with the same distances."""
    exclude = False if own is None else own
    want_idx, want_d = brute(query, support, k, exclude)
    np.testing.assert_array_equal(got.indices, want_idx)
    np.testing.assert_array_equal(got.sq_distances, want_d)
    ref = nearest_neighbours(query, support, k, exclude_self=exclude, precision=precision)
    np.testing.assert_array_equal(got.indices, ref.indices)
    np.testing.assert_array_equal(got.sq_distances, ref.sq_distances)
    assert got.error_bounds is None


def many_blocks(query, support, k, calls, blocks=6, precision="fp32", unproven="proved", **kwargs):
    """The streamed search with a budget that forces at least ``blocks`` support blocks (checked on the blocks
    it reads, and on its calls of the in-memory engine: one per block for the rows searched again)."""
    budget = budget_for(query, support, k, blocks, precision)
    the_plan = plan(query, support, k, budget, precision)
    assert the_plan.n_blocks >= blocks and the_plan.estimate <= budget
    seen = []
    read = knn_streamed._Stream._read_block

    def counted(self, b, check=True):
        seen.append(len(read(self, b, check)))
        return read(self, b, check)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(knn_streamed._Stream, "_read_block", counted)
        got = streamed_nearest_neighbours(query, support, k, memory_budget=budget, precision=precision, **kwargs)
    assert len(seen) >= 2 * the_plan.n_blocks and max(seen) <= the_plan.support_rows  # read twice, in blocks
    assert got.first_rows + got.widened_rows == len(query)
    if unproven != "proved":  # "searched again": every other row refused; a number: that many
        assert got.widened_rows >= (len(query[::2]) if unproven == "searched again" else unproven)
        assert len(calls) >= the_plan.n_blocks and max(n_s for _, n_s, _ in calls) <= the_plan.support_rows
    return got, the_plan


@pytest.mark.parametrize("precision", ["fp32", "fp64", pytest.param("bf16", marks=needs_bf16)])
def test_random_data_in_many_blocks(precision, calls, unproven, monkeypatch):
    rng = np.random.default_rng(0)
    support, query = activations(rng, 900, 48), activations(rng, 80, 48)
    got, _ = many_blocks(query, support, K, calls, blocks=6, precision=precision, unproven=unproven)
    check(got, query, support, K, precision=precision)
    assert got.precision == precision
    if unproven == "proved":
        assert got.widened_rows == 0 and not calls  # every row proven by the streamed search
    monkeypatch.setattr(knn_streamed, "_THREAD_PAIRS", 1)  # the float64 pass split between threads
    threaded = streamed_nearest_neighbours(query, support, K, memory_budget=budget_for(query, support, K, 6,
                                           precision), precision=precision)  # fmt: skip
    np.testing.assert_array_equal(threaded.indices, got.indices)
    np.testing.assert_array_equal(threaded.sq_distances, got.sq_distances)


@pytest.mark.parametrize("dtype", [np.float32, np.int16])
def test_tie_heavy_integer_grid(dtype, calls, unproven):
    """Values in {0, 1, 2}: most distances are shared by many support points in every block."""
    rng = np.random.default_rng(1)
    support, query = rng.integers(0, 3, (900, 5)).astype(dtype), rng.integers(0, 3, (150, 5)).astype(dtype)
    got, the_plan = many_blocks(query, support, 25, calls, blocks=9, unproven=unproven)
    check(got, query, support, 25)
    # the ties cross block boundaries: the support points at a row's k-th distance lie in several blocks
    d = ((support[None].astype(np.float64) - query[:, None]) ** 2).sum(-1)
    spread = [
        len(np.unique(np.flatnonzero(row == kth) // the_plan.support_rows))
        for row, kth in zip(d, got.sq_distances[:, -1], strict=True)
    ]
    assert np.mean(np.array(spread) > 1) > 0.9


def test_rows_duplicated_across_blocks(calls, unproven):
    rng = np.random.default_rng(2)
    base = activations(rng, 120, 32)
    support = np.concatenate([base, base[::-1], base[:60], base])  # each row 2 to 4 times, far apart
    query = np.concatenate([base[::5], activations(rng, 40, 32)])
    got, _ = many_blocks(query, support, K, calls, blocks=10, unproven=unproven)
    check(got, query, support, K)
    assert (got.sq_distances[: len(base[::5]), 0] == 0).all()  # an exact copy of the query first


def test_exclude_self_true(calls, unproven):
    support = activations(np.random.default_rng(3), 700, 24)
    got, _ = many_blocks(support, support, K, calls, blocks=7, exclude_self=True, unproven=unproven)
    check(got, support, support, K, own=np.arange(len(support)))
    assert not (got.indices == np.arange(len(support))[:, None]).any()


def test_exclude_self_offset_array(calls, unproven):
    """Queries that are support rows 300..499 (and 50 that are not: -1)."""
    rng = np.random.default_rng(4)
    support = activations(rng, 800, 24)
    query = np.concatenate([support[300:500], activations(rng, 50, 24)])
    own = np.concatenate([np.arange(300, 500), np.full(50, -1)])
    got, _ = many_blocks(query, support, K, calls, blocks=8, exclude_self=own, unproven=unproven)
    check(got, query, support, K, own=own)
    assert (got.sq_distances[200:, 0] > 0).all() and not (got.indices[:200] == own[:200, None]).any()


@pytest.mark.parametrize("exclude", [False, True])
@pytest.mark.parametrize("k", ["one", "n_support - 1"])
def test_k_of_one_and_all_but_one(k, exclude, calls, unproven):
    """k = n_support - 1 with blocks far smaller than k: every block's whole list goes into the merge."""
    support = activations(np.random.default_rng(5), 90, 6)
    query = support if exclude else activations(np.random.default_rng(6), 40, 6)
    k = 1 if k == "one" else len(support) - 1
    own = np.arange(len(support)) if exclude else None
    got, _ = many_blocks(query, support, k, calls, blocks=6, exclude_self=exclude, unproven=unproven)
    check(got, query, support, k, own=own)


@pytest.mark.parametrize("k", [15, 16, 60])
def test_blocks_smaller_than_k_holding_own_rows_of_some_queries(k, calls, monkeypatch):
    """Blocks of 16 rows (the last 13), all queries in one group: the streamed search (each block whole for
    every row, the own row among the candidates of its block), then with the proof refused for every row, so
    that each block takes one call per row set: where a block holds the own rows of some queries only and k is
    at least its rows, those get one row fewer there than the others (two calls)."""
    support = activations(np.random.default_rng(7), 61, 4)
    own = np.r_[np.arange(55, 61), np.full(10, -1), np.arange(0, 10)]
    query = np.concatenate([support[55:61], activations(np.random.default_rng(8), 10, 4), support[:10]])
    fixed = knn_streamed.StreamPlan(16, len(query), len(query), 4, 1, 0)
    monkeypatch.setattr(knn_streamed, "plan_stream", lambda *args, **kwargs: fixed)
    got = streamed_nearest_neighbours(query, support, k, exclude_self=own)
    check(got, query, support, k, own=own)
    assert not calls and got.first_rows == len(query)
    refuse_proof(monkeypatch, every=1)
    got = streamed_nearest_neighbours(query, support, k, exclude_self=own)
    check(got, query, support, k, own=own)
    assert got.widened_rows == len(query) and got.first_rows == 0
    split = [n_q for n_q, _, _ in calls if n_q < len(query)]
    # block 0 holds the own rows of queries 16-25, block 3 (rows 48-60) those of queries 0-5
    assert split == ([10, 16, 6, 20] if k >= 16 else [6, 20])


@pytest.mark.parametrize("precision", ["fp32", pytest.param("bf16", marks=needs_bf16)])
def test_rows_searched_again_with_more_candidates_in_a_block(precision, calls, monkeypatch):
    """From the second block on each row gets only 2 candidates of a block: the rows whose 2 do not rule out the
    block's other rows are searched again there with all ``k + extra`` (in bfloat16, in padded products of a
    fixed number of rows), and the answer stays exact without any call of the in-memory engine."""
    rng = np.random.default_rng(17)
    support, query = activations(rng, 900, 48), activations(rng, 80, 48)
    widths = []
    search, add = knn_streamed._Group._search, knn_streamed._Group.add

    def spied(self, rows, lo, block, n_sel, pad=False):
        widths.append((lo, n_sel, len(rows)))
        return search(self, rows, lo, block, n_sel, pad)

    def narrow(self, lo, block):
        self.n_sel = 2 if lo else self.n_sel
        return add(self, lo, block)

    monkeypatch.setattr(knn_streamed._Group, "_search", spied)
    monkeypatch.setattr(knn_streamed._Group, "add", narrow)
    got, _ = many_blocks(query, support, K, calls, blocks=6, precision=precision)
    check(got, query, support, K, precision=precision)
    widest = K + (knn.BF16_EXTRA_CANDIDATES if precision == "bf16" else knn.EXTRA_CANDIDATES)
    again = [n for lo, n_sel, n in widths if lo and n_sel == widest]
    assert {n_sel for lo, n_sel, _ in widths if lo} == {2, widest} and 0 < sum(again) < 5 * len(query)
    assert got.widened_rows == 0 and not calls


@pytest.mark.parametrize("precision", ["fp32", pytest.param("bf16", marks=needs_bf16)])
def test_rows_not_cleared_block_by_block_are_proven_against_every_norm(precision, calls, monkeypatch):
    """Where a block's other rows cannot be ruled out with the block's own norms (here: never), the value they
    reach at least goes into the row's floor, and the proof at the end rules them out against the norms of the
    whole support set (Gaussian data: centred already, so the centre is 0)."""
    rng = np.random.default_rng(19)
    support, query = rng.normal(size=(900, 64)).astype(np.float32), rng.normal(size=(40, 64)).astype(np.float32)
    no_outsider, floors = knn_streamed._no_outsider, []

    def block_by_block_fails(nu_sorted, *args):
        return np.zeros(len(args[0]), dtype=bool) if len(nu_sorted) < len(support) else no_outsider(nu_sorted, *args)

    prove = knn_streamed._Group.prove

    def spied(self):
        floors.append(np.isfinite(self.floor))
        return prove(self)

    monkeypatch.setattr(knn_streamed, "_no_outsider", block_by_block_fails)
    monkeypatch.setattr(knn_streamed._Group, "prove", spied)
    got, _ = many_blocks(query, support, K, calls, blocks=6, precision=precision)
    check(got, query, support, K, precision=precision)
    assert np.concatenate(floors).all() and got.widened_rows == 0 and not calls
    monkeypatch.setattr(knn_streamed, "_no_outsider", lambda nu_sorted, *args: np.zeros(len(args[0]), dtype=bool))
    got, _ = many_blocks(query, support, K, calls, blocks=6, precision=precision, unproven=len(query))
    check(got, query, support, K, precision=precision)  # every row searched again
    assert got.widened_rows == len(query)


@needs_bf16
@pytest.mark.parametrize("certified", [0.0, 1.01])
def test_auto_trial_on_the_first_block(certified, calls, monkeypatch):
    """``"auto"`` searches its first 256 queries against the first block in bfloat16 and goes on in bfloat16,
    or in float32 when that trial proves too few of them (here: none can be enough, or any)."""
    rng = np.random.default_rng(18)
    support, query = activations(rng, 3000, 32), activations(rng, 600, 32)
    monkeypatch.setattr(knn_streamed, "_bf16_pays", lambda *args: True)
    monkeypatch.setattr(knn_streamed, "_BF16_MIN_CERTIFIED", certified)
    fixed = knn_streamed.StreamPlan(1000, len(query), len(query), 3, 1, 0)
    monkeypatch.setattr(knn_streamed, "plan_stream", lambda *args, **kwargs: fixed)
    got = streamed_nearest_neighbours(query, support, K)
    want = "bf16" if certified == 0.0 else "fp32"
    check(got, query, support, K, precision=want)
    assert got.precision == want and not calls


def test_bfloat16_sums_not_in_float32_are_refused_or_avoided(monkeypatch):
    """Where bfloat16 products would not keep their sums in float32 (no bound holds), ``"bf16"`` is refused
    before any search and ``"auto"`` searches in float32."""
    rng = np.random.default_rng(20)
    support, query = activations(rng, 900, 300), activations(rng, 300, 300)
    monkeypatch.setattr(knn_streamed, "_bf16_pays", lambda *args: True)
    monkeypatch.setattr(knn_streamed, "_bf16_sums_in_float32", lambda *args: False)
    budget = budget_for(query, support, K, 4, "auto")
    with pytest.raises(ValueError, match="do not keep their sums in float32"):
        streamed_nearest_neighbours(query, support, K, memory_budget=budget, precision="bf16")
    got = streamed_nearest_neighbours(query, support, K, memory_budget=budget, precision="auto")
    check(got, query, support, K)
    assert got.precision == "fp32"


def test_memmap_support_read_in_blocks(tmp_path, calls):
    rng = np.random.default_rng(9)
    support, query = activations(rng, 700, 40), activations(rng, 60, 40)
    np.save(tmp_path / "support.npy", support)
    np.save(tmp_path / "query.npy", query)
    s_map, q_map = np.load(tmp_path / "support.npy", mmap_mode="r"), np.load(tmp_path / "query.npy", mmap_mode="r")
    assert isinstance(s_map, np.memmap)
    got, _ = many_blocks(q_map, s_map, K, calls, blocks=6)
    check(got, query, support, K)
    np.testing.assert_array_equal(s_map, support)  # the released pages read back unchanged


class RowsOnly:
    """An array behind row slicing only, recording every read; anything else fails."""

    def __init__(self, array):
        self.array, self.shape, self.dtype, self.reads = array, array.shape, array.dtype, []

    def __getitem__(self, key):
        assert isinstance(key, slice) and key.step is None, key
        self.reads.append((key.start, key.stop))
        return self.array[key]

    def __array__(self, *args, **kwargs):
        raise AssertionError("read as a whole")


def test_support_is_only_read_in_row_blocks():
    support = activations(np.random.default_rng(10), 1000, 16)
    query = support[::9].copy()
    source = RowsOnly(support)
    budget = budget_for(query, support, K, 6)
    got = streamed_nearest_neighbours(query, source, K, memory_budget=budget, precision="fp32")
    check(got, query, support, K)
    the_plan = plan(query, support, K, budget)
    blocks = [(a, min(a + the_plan.support_rows, len(support))) for a in range(0, len(support), the_plan.support_rows)]
    assert the_plan.n_query_chunks > 1 and len(blocks) > 5
    # per query group the candidates' pass, then the float64 pass
    assert source.reads == (blocks + blocks) * the_plan.n_query_chunks


def test_copy_on_write_memmap_keeps_its_changes(tmp_path):
    """Pages of a mode "c" memmap are not released (that would drop the changes made in memory)."""
    support = activations(np.random.default_rng(11), 600, 16)
    np.save(tmp_path / "s.npy", support)
    changed = np.load(tmp_path / "s.npy", mmap_mode="c")
    changed[::3] += 5.0
    got = streamed_nearest_neighbours(support[:50], changed, K, memory_budget=budget_for(support[:50], support, K, 6))
    check(got, support[:50], np.array(changed), K)
    np.testing.assert_array_equal(changed[::3], support[::3] + 5.0)


def resident_file_kb() -> int | None:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("RssFile:"):
                return int(line.split()[1])
    return None


@pytest.mark.parametrize("precision", ["fp32", pytest.param("bf16", marks=needs_bf16)])
def test_memmap_pages_are_released(tmp_path, monkeypatch, precision):
    """A 32 MB support file (and its queries' file) streamed through a small budget leaves their pages out of
    this process's resident memory (they stay in the page cache) as soon as each block is done: during the
    search, not only after it."""
    if resident_file_kb() is None:
        pytest.skip("no RssFile in /proc/self/status")
    support = np.random.default_rng(12).random((16384, 512), dtype=np.float32)
    np.save(tmp_path / "big.npy", support)
    np.save(tmp_path / "query.npy", support[:300])
    query = support[:300].copy()
    budget = budget_for(query, support, 3, 8, precision)
    streamed_nearest_neighbours(query, support[:2000], 3, memory_budget=budget, precision=precision)  # warm-up
    mapped, mapped_query = np.load(tmp_path / "big.npy", mmap_mode="r"), np.load(tmp_path / "query.npy", mmap_mode="r")
    grown = []
    done = knn_streamed._Stream._done

    def measured(self, rows):
        done(self, rows)
        grown.append(resident_file_kb() - before)

    monkeypatch.setattr(knn_streamed._Stream, "_done", measured)
    before = resident_file_kb()
    got = streamed_nearest_neighbours(mapped_query, mapped, 3, memory_budget=budget, precision=precision)
    assert len(grown) >= 16 and max(grown) < 32 * 1024 / 4, f"{max(grown)} kB of mapped pages still resident"
    np.testing.assert_array_equal(got.indices[:, 0], np.arange(300))


def test_one_block_is_the_in_memory_result_field_by_field():
    rng = np.random.default_rng(13)
    support, query = activations(rng, 500, 20), activations(rng, 60, 20)
    got = streamed_nearest_neighbours(query, support, K, precision="fp32")
    ref = nearest_neighbours(query, support, K, precision="fp32")
    for name in ("fallback_rows", "widened_rows", "precision", "rechecked_rows", "remeasured_rows", "first_rows"):
        assert getattr(got, name) == getattr(ref, name), name
    np.testing.assert_array_equal(got.indices, ref.indices)


def test_counters(calls, monkeypatch):
    """Rows proven by the streamed search count in ``first_rows``, the others in ``widened_rows`` (once each),
    their searches' counters summed over their calls (one per block); ``remeasured_rows``: rows with more than
    ``k`` candidates to measure in float64, plus those of the calls."""
    rng = np.random.default_rng(14)
    support, query = activations(rng, 600, 12), activations(rng, 50, 12)
    support[::100] = support[3]  # 6 rows at equal distances: more live candidates than k for some queries
    live = []
    prove = knn_streamed._Group.prove

    def spied(self):
        proven = prove(self)
        live.append(self.n_live[proven])
        return proven

    monkeypatch.setattr(knn_streamed._Group, "prove", spied)
    got, the_plan = many_blocks(query, support, K, calls, blocks=6)
    assert (got.first_rows, got.widened_rows, got.fallback_rows, got.rechecked_rows) == (len(query), 0, 0, 0)
    assert got.remeasured_rows == (np.concatenate(live) > K).sum() > 0 and got.precision == "fp32" and not calls
    refuse_proof(monkeypatch, every=5)
    again, _ = many_blocks(query, support, K, calls, blocks=6, unproven=10)
    assert (again.first_rows, again.widened_rows) == (len(query) - 10, 10)
    assert sum(n_q for n_q, _, _ in calls) == the_plan.n_blocks * 10  # each refused row once per block
    ref = nearest_neighbours(query[::5], support, K, precision="fp32")
    np.testing.assert_array_equal(again.indices[::5], ref.indices)


def test_plan_fits_the_budget_and_grows_with_it():
    plans = [plan_stream(30_000, 300_000, 2048, 30, b) for b in ("256MiB", "1GiB", "4GiB", "2GB")]
    for plan, budget in zip(plans, (2**28, 2**30, 2**32, 2 * 10**9), strict=True):
        assert plan.estimate <= budget
        assert plan.support_rows * plan.n_blocks >= 300_000 > plan.support_rows * (plan.n_blocks - 1)
    assert plans[0].n_blocks > plans[1].n_blocks > plans[2].n_blocks
    assert plan_stream(100, 500, 8, 3, 2**30).n_blocks == 1  # small inputs: one block, one call
    assert plan_stream(100, 500, 8, 3, None) == plan_stream(100, 500, 8, 3, "1GiB")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"memory_budget": "lots"}, "memory_budget must be"),
        ({"memory_budget": 0}, "memory_budget must be a positive"),
        ({"memory_budget": 500}, "memory_budget=500 is too small"),
        ({"k": 0}, "k must be"),
        ({"k": 41}, "k=41 is larger than n_support = 40"),
        ({"k": 40, "exclude_self": np.full(5, -1)}, "larger than n_support - 1"),
        ({"exclude_self": True}, "exclude_self=True needs the queries to be the support set"),
        ({"exclude_self": np.arange(4)}, "exclude_self must be True, False or one support row"),
        ({"precision": "fp16"}, "precision must be one of"),
        ({"device": "mps"}, "device='mps' is not supported"),
        ({"query": np.ones((5, 4))}, "query has 4 features but support has 3"),
        ({"query": np.ones(5)}, "query must be a 2-D array"),
        ({"support": np.ones((0, 3))}, "support is empty"),
        ({"support": np.array([["a"] * 3])}, "support must be numeric"),
    ],
)
def test_bad_inputs_are_refused_before_any_search(kwargs, message, monkeypatch):
    monkeypatch.setattr(knn_streamed, "nearest_neighbours", lambda *a, **k: pytest.fail("searched"))
    args = {"query": np.ones((5, 3)), "support": np.ones((40, 3)), "k": 3} | kwargs
    with pytest.raises(ValueError, match=message):
        streamed_nearest_neighbours(args.pop("query"), args.pop("support"), args.pop("k"), **args)


def test_nan_in_a_later_block_is_named():
    support = activations(np.random.default_rng(15), 400, 8)
    support[390, 3] = np.nan
    with pytest.raises(ValueError, match="support contains NaN"):
        streamed_nearest_neighbours(support[:20], support, 3, memory_budget=budget_for(support[:20], support, 3, 6))


def test_progress_bar_over_blocks(capsys):
    support = activations(np.random.default_rng(16), 300, 8)
    budget = budget_for(support[:10], support, 3, 6)
    streamed_nearest_neighbours(support[:10], support, 3, memory_budget=budget, progress=True)
    assert "k-NN support blocks" in capsys.readouterr().err
    streamed_nearest_neighbours(support[:10], support, 3, memory_budget=budget)
    assert "k-NN support blocks" not in capsys.readouterr().err


def test_real_activations(fashion_dir, calls):
    """The small CNN's probes of 2000 Fashion-MNIST training images (1 epoch): the first 300 as queries against
    all 2000 (own rows excluded), streamed in at least 4 blocks, against the in-memory engine."""
    from difficulty_widget.data import load_fashion_mnist
    from difficulty_widget.extract import extract, train_small_model

    train = load_fashion_mnist("train", root=fashion_dir).subset(np.arange(2000))
    model = train_small_model(train, "cnn", epochs=1, seed=0, progress=False).model
    probes = extract(model, train, probes="default", max_probe_dim=4096, progress=False).probes
    own = np.arange(300)
    for name in ("block1", "block3"):
        support = probes[name]
        query = support[:300]
        budget = budget_for(query, support, 30, 4, precision="auto")
        assert plan(query, support, 30, budget, "auto").n_blocks >= 4
        got = streamed_nearest_neighbours(query, support, 30, exclude_self=own, memory_budget=budget)
        ref = nearest_neighbours(query, support, 30, exclude_self=own)
        np.testing.assert_array_equal(got.indices, ref.indices)
        np.testing.assert_array_equal(got.sq_distances, ref.sq_distances)
        assert got.precision == ref.precision and got.first_rows >= 0.95 * len(query)
