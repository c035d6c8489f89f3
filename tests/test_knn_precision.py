"""The k-NN engine at every precision of its candidate search (``bf16``, ``fp32``, ``fp64``, ``auto``) against an
independent float64 brute force (numpy, one query at a time, a stable argsort of ``((s - q) ** 2).sum(1)``):
the neighbour sets, their order by (distance, index) and the distances, on data built to break a loose bound.
Also: a case where bfloat16 rounding provably swaps the 1st and 2nd neighbours, the check of the device's
bfloat16 sums, the automatic choice, and prediction depth at each precision on real activations."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_knn import activations, assert_exact, assert_sets_and_bounds, brute

from difficulty_widget.measures import knn, nearest_neighbours
from difficulty_widget.measures.depth import prediction_depth

PRECISIONS = ("bf16", "fp32", "fp64", "auto")


def bf16_works() -> bool:
    """Whether this machine's bfloat16 products keep float32 sums (else a forced ``bf16`` raises)."""
    return knn._bf16_sums_in_float32(torch.device("cpu"), 64, 64, 32)


needs_bf16 = pytest.mark.skipif(not bf16_works(), reason="bfloat16 products here do not sum in float32")


def cases() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(query, support) pairs that stress the bound, each small enough for the brute force."""
    rng = np.random.default_rng(7)
    grid_s = rng.integers(0, 3, size=(600, 6)).astype(np.float32)  # tie-heavy integer grid
    grid_q = rng.integers(0, 3, size=(150, 6)).astype(np.float32)
    dup = activations(np.random.default_rng(2), 400, d=96)
    dup = np.concatenate([dup, dup[:200], dup[:50]])  # duplicated rows: exact ties of distance
    outliers_s = activations(np.random.default_rng(3), 1500, d=128, outliers=0.02, scale=20.0)
    outliers_q = activations(np.random.default_rng(4), 200, d=128, outliers=0.02, scale=20.0)
    return {
        "random": (rng.normal(size=(200, 80)).astype(np.float32), rng.normal(size=(1200, 80)).astype(np.float32)),
        "integer grid": (grid_q, grid_s),
        "duplicated rows": (dup[::7], dup),
        "offset 1e4": (
            activations(np.random.default_rng(5), 200, d=64, offset=1e4),
            activations(np.random.default_rng(6), 1500, d=64, offset=1e4),
        ),
        "20x norms": (outliers_q, outliers_s),
        "2 dims": (rng.normal(size=(300, 2)).astype(np.float32), rng.normal(size=(900, 2)).astype(np.float32)),
        "10 dims": (rng.normal(size=(300, 10)).astype(np.float32), rng.normal(size=(900, 10)).astype(np.float32)),
        "4096 dims": (
            activations(np.random.default_rng(8), 60, d=4096, n_clusters=4),
            activations(np.random.default_rng(9), 400, d=4096, n_clusters=4),
        ),
    }


CASES = cases()


@needs_bf16
@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("name", list(CASES))
def test_every_precision_equals_brute_force(name, precision):
    query, support = CASES[name]
    got = nearest_neighbours(query, support, 30, precision=precision)
    assert_exact(got, query, support, 30)
    fast = nearest_neighbours(query, support, 30, precision=precision, exact_distances=False)
    assert_sets_and_bounds(fast, query, support, 30)  # the returned values lie within their bounds


@needs_bf16
@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("k", [1, 899])
def test_k_of_one_and_the_whole_support(precision, k):
    query, support = CASES["2 dims"]
    assert_exact(nearest_neighbours(query, support, k, precision=precision), query, support, k)
    assert_exact(nearest_neighbours(support, support, k, exclude_self=True, precision=precision), support, support,
                 k, exclude_self=True)  # fmt: skip


@needs_bf16
@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("name", ["integer grid", "duplicated rows", "20x norms"])
def test_exclude_self(name, precision):
    _, support = CASES[name]
    got = nearest_neighbours(support, support, 30, exclude_self=True, precision=precision)
    assert_exact(got, support, support, 30, exclude_self=True)


@needs_bf16
def test_bf16_search_proves_most_rows_on_activations():
    """Not vacuous the other way either: on clustered activations bfloat16 settles nearly every row itself."""
    query, support = CASES["20x norms"]
    got = nearest_neighbours(query, support, 30, precision="bf16")
    assert got.precision == "bf16"
    assert got.rechecked_rows <= 0.1 * len(query)


def swapped_pair(seed: int = 0) -> tuple[np.ndarray, np.ndarray, int, int]:
    """A query and two support rows ``a`` (nearer in exact arithmetic) and ``b`` whose bfloat16 values, as the
    engine computes them (``|x|^2 + |y|^2 - 2 bf16(x).bf16(y)``, rounded to bfloat16), put ``b`` first."""
    rng = np.random.default_rng(seed)
    d = 16
    for _ in range(100_000):
        q = rng.normal(size=d).astype(np.float32)
        a = (q + rng.normal(scale=0.3, size=d)).astype(np.float32)
        b = (q + rng.normal(scale=0.3, size=d)).astype(np.float32)
        exact = [float(((y.astype(np.float64) - q) ** 2).sum()) for y in (a, b)]
        if not exact[0] < exact[1] < exact[0] * (1 + 2**-9):
            continue
        rq = torch.from_numpy(q).bfloat16().double()
        value = []
        for y in (a, b):
            ry = torch.from_numpy(y).bfloat16().double()
            v = float(q.astype(np.float64) @ q) + float(y.astype(np.float64) @ y) - 2 * float(rq @ ry)
            value.append(torch.tensor(v).bfloat16().item())
        if value[1] < value[0]:
            return q, a, b, d
    raise AssertionError("no swapped pair found")


@needs_bf16
def test_certificate_catches_a_swap_made_by_bfloat16_rounding():
    q, a, b, d = swapped_pair()
    rng = np.random.default_rng(1)
    far = rng.normal(loc=30.0, size=(300, d)).astype(np.float32)  # far from the query
    # with its negation the support set has mean 0: the engine does not centre, so it rounds q, a and b as above
    half = np.concatenate([[a, b], far])
    support = np.concatenate([half, -half]).astype(np.float32)
    queries = np.repeat(q[None], 300, axis=0)  # enough queries for the automatic choice too
    for precision in ("bf16", "auto"):
        got = nearest_neighbours(queries, support, 1, precision=precision)
        assert_exact(got, queries, support, 1)
        assert (got.indices[:, 0] == 0).all()  # a, not b
        if precision == "bf16" or got.precision == "bf16":
            # the bfloat16 values alone would have chosen b: the row needed float64 re-measurements
            assert got.remeasured_rows + got.rechecked_rows == len(queries)


def rounding_partial_sums(mm):
    """``torch.mm`` as a device whose bfloat16 products round partial sums to bfloat16 (two halves)."""

    def product(a, b, *args, **kwargs):
        if a.dtype != torch.bfloat16:
            return mm(a, b, *args, **kwargs)
        half = a.shape[1] // 2
        first = mm(a[:, :half], b[:half])  # rounded to bfloat16
        second = mm(a[:, half:], b[half:])
        result = (first.float() + second.float()).bfloat16()
        if kwargs.get("out") is not None:
            kwargs["out"].copy_(result)
            return kwargs["out"]
        return result

    return product


def test_device_without_float32_sums_is_refused_or_avoided(monkeypatch):
    monkeypatch.setattr(torch, "mm", rounding_partial_sums(torch.mm))
    monkeypatch.setattr(knn, "_SUMS_CHECKED", {})
    monkeypatch.setattr(knn, "_bf16_pays", lambda *args: True)
    assert not knn._bf16_sums_in_float32(torch.device("cpu"), 64, 64, 32)
    query, support = CASES["random"]
    with pytest.raises(ValueError, match="do not keep their sums in float32"):
        nearest_neighbours(query, support, 5, precision="bf16")
    got = nearest_neighbours(query, support, 5, precision="auto")
    assert got.precision == "fp32"
    assert_exact(got, query, support, 5)


def test_automatic_choice(monkeypatch):
    _, support = CASES["4096 dims"]  # 400 queries of 4096 features
    monkeypatch.setattr(knn, "_cpu_flags", lambda: frozenset({"avx2"}))
    assert nearest_neighbours(support, support, 5).precision == "fp32"  # no fast bfloat16 here
    monkeypatch.setattr(knn, "_cpu_flags", lambda: frozenset({"avx512_bf16"}))
    assert knn._bf16_pays(torch.device("cpu"), 256, 1000)
    assert not knn._bf16_pays(torch.device("cpu"), 128, 1000)  # too few features
    assert not knn._bf16_pays(torch.device("cpu"), 128, 100)  # too few queries
    if bf16_works():
        assert nearest_neighbours(support, support, 5).precision == "bf16"
        assert nearest_neighbours(support[:200], support, 5).precision == "fp32"  # 200 queries
        assert nearest_neighbours(support[:, :128], support[:, :128], 5).precision == "fp32"  # 128 features


@needs_bf16
def test_auto_leaves_bfloat16_when_it_proves_too_few_rows(monkeypatch):
    """Gaussian noise in 2048 dimensions: distances concentrate, the first bfloat16 search proves under 80% of
    the rows of the first chunk, and the rest of the queries are searched in float32 only."""
    monkeypatch.setattr(knn, "_bf16_pays", lambda *args: True)
    rng = np.random.default_rng(3)
    support = rng.normal(size=(2000, 2048)).astype(np.float32)
    query = rng.normal(size=(600, 2048)).astype(np.float32)
    got = nearest_neighbours(query, support, 30, chunk_size=200)
    assert got.precision == "fp32"
    assert 100 < got.rechecked_rows <= 200  # only the first chunk was searched in bfloat16
    assert_exact(got, query, support, 30)


def test_unknown_precision_is_refused():
    with pytest.raises(ValueError, match="precision must be one of"):
        nearest_neighbours(np.ones((3, 2)), np.ones((4, 2)), 1, precision="fp16")


@pytest.fixture(scope="module")
def fashion_probes(fashion_dir):
    """The small CNN's probes of 1000 Fashion-MNIST test images against 4000 training images (trained 1 epoch)."""
    from difficulty_widget.data import load_fashion_mnist
    from difficulty_widget.extract import extract, train_small_model

    train = load_fashion_mnist("train", root=fashion_dir).subset(np.arange(4000))
    test = load_fashion_mnist("test", root=fashion_dir).subset(np.arange(1000))
    model = train_small_model(train, "cnn", epochs=1, seed=0, progress=False).model
    kwargs = {"probes": "default", "max_probe_dim": 4096, "progress": False}
    tr, te = extract(model, train, **kwargs), extract(model, test, **kwargs)
    names = list(tr.probes)
    return [te.probes[n] for n in names], [tr.probes[n] for n in names], train.labels, te.predictions


@needs_bf16
def test_real_activations_at_every_precision(fashion_probes):
    queries, supports, _, _ = fashion_probes
    for query, support in zip(queries[:5], supports[:5], strict=True):  # input, blocks, head
        want = brute(query[:200], support, 30)
        for precision in PRECISIONS:
            got = nearest_neighbours(query[:200], support, 30, precision=precision)
            np.testing.assert_array_equal(got.indices, want[0])
            np.testing.assert_array_equal(got.sq_distances, want[1])


@needs_bf16
def test_prediction_depth_is_the_same_at_every_precision(fashion_probes):
    queries, supports, labels, predictions = fashion_probes
    results = {
        p: prediction_depth(queries, supports, labels, predictions, progress=False, precision=p)
        for p in ("bf16", "fp32", "fp64")
    }
    for p in ("bf16", "fp32"):
        np.testing.assert_array_equal(results[p].votes, results["fp64"].votes)
        np.testing.assert_array_equal(results[p].depth, results["fp64"].depth)
    assert results["bf16"].precisions == ["bf16"] * len(queries)
