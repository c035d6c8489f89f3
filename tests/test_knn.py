"""The exact k-NN engine on data shaped like trained-network activations (non-negative, clustered, a few rows with
outlying norms, a large common offset), against an independent float64 brute force: numpy, one query at a time,
a stable argsort of ``((s - q) ** 2).sum(1)`` (the own row dropped for ``exclude_self``). Also: how often rows need
the wider search or the full float64 pass, the device argument, and the GPU check script's smoke mode."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from difficulty_widget.measures import knn, nearest_neighbours
from difficulty_widget.measures.depth import depth_flow, prediction_depth

REPO = Path(__file__).resolve().parents[1]
K = 30


def brute(query, support, k, exclude_self=False):
    """Indices and squared distances of the k nearest, by (float64 distance, index); ``exclude_self``: True (row
    i drops support row i) or per query the support row to drop (-1: none)."""
    s = np.asarray(support, dtype=np.float64)
    own = np.arange(len(query)) if exclude_self is True else exclude_self
    indices, dists = [], []
    for i, q in enumerate(np.asarray(query, dtype=np.float64)):
        d = ((s - q) ** 2).sum(1)
        order = np.argsort(d, kind="stable")
        if own is not False and own is not None and own[i] >= 0:
            order = order[order != own[i]]
        indices.append(order[:k])
        dists.append(d[order[:k]])
    return np.array(indices), np.array(dists)


def activations(rng, n, d=64, outliers=0.0, scale=20.0, offset=0.0, n_clusters=10):
    """ReLU-like clustered rows; a share ``outliers`` of them scaled by ``scale`` (``scale`` times the median
    norm, about); ``offset`` added to every feature."""
    centres = np.random.default_rng(12345).normal(size=(n_clusters, d))  # the same clusters for every call
    x = np.maximum(centres[rng.integers(0, n_clusters, n)] + rng.normal(scale=0.7, size=(n, d)), 0.0)
    n_out = round(outliers * n)
    if n_out:
        x[rng.choice(n, n_out, replace=False)] *= scale
    return (x + offset).astype(np.float32)


def assert_exact(got, query, support, k=K, exclude_self=False):
    want_idx, want_d = brute(query, support, k, exclude_self)
    np.testing.assert_array_equal(got.indices, want_idx)
    np.testing.assert_array_equal(got.sq_distances, want_d)
    return want_idx, want_d


def assert_sets_and_bounds(fast, query, support, k=K, exclude_self=False):
    """``exact_distances=False``: the same sets, and every float32 distance within its row's error bound."""
    want_idx, _ = brute(query, support, k, exclude_self)
    np.testing.assert_array_equal(np.sort(fast.indices, axis=1), np.sort(want_idx, axis=1))
    s, q = support.astype(np.float64), query.astype(np.float64)
    remeasured = ((s[fast.indices] - q[:, None, :]) ** 2).sum(-1)
    assert (np.abs(fast.sq_distances - remeasured) <= fast.error_bounds[:, None]).all()


@pytest.fixture(scope="module")
def outlier_data():
    support = activations(np.random.default_rng(0), 3000, outliers=0.01, scale=20.0)
    query = activations(np.random.default_rng(1), 500, outliers=0.01, scale=20.0)
    norms = np.linalg.norm(support, axis=1)
    assert norms.max() > 15 * np.median(norms)  # the outliers are there
    return query, support


def test_outlier_norms_equal_brute_force_and_rarely_fall_back(outlier_data):
    query, support = outlier_data
    got = nearest_neighbours(query, support, K, precision="fp32")  # the float32 bound (bf16: test_knn_precision)
    assert_exact(got, query, support)
    assert got.fallback_rows < 0.01 * len(query)
    assert got.widened_rows < 0.01 * len(query)  # the first search proves nearly every row
    assert_sets_and_bounds(nearest_neighbours(query, support, K, exact_distances=False), query, support)


def test_common_offset_equals_brute_force_and_rarely_falls_back():
    support = activations(np.random.default_rng(2), 3000, offset=1e4)
    query = activations(np.random.default_rng(3), 500, offset=1e4)
    got = nearest_neighbours(query, support, K, precision="fp32")
    assert_exact(got, query, support)
    assert got.fallback_rows < 0.01 * len(query) and got.widened_rows < 0.01 * len(query)
    assert_sets_and_bounds(nearest_neighbours(query, support, K, exact_distances=False), query, support)


@pytest.mark.parametrize("kind", ["outliers", "offset"])
def test_exclude_self_on_activations(kind):
    rng = np.random.default_rng(4)
    x = activations(rng, 2000, outliers=0.01) if kind == "outliers" else activations(rng, 2000, offset=1e4)
    got = nearest_neighbours(x, x, K, exclude_self=True, chunk_size=700, precision="fp32")
    assert_exact(got, x, x, exclude_self=True)
    assert not (got.indices == np.arange(len(x))[:, None]).any()
    assert got.fallback_rows < 0.01 * len(x) and got.widened_rows < 0.01 * len(x)
    fast = nearest_neighbours(x, x, K, exclude_self=True, exact_distances=False)
    assert_sets_and_bounds(fast, x, x, exclude_self=True)


def test_float64_and_integer_inputs():
    rng = np.random.default_rng(5)
    support = activations(rng, 1500, outliers=0.01).astype(np.float64) + 1e3
    query = activations(rng, 200, outliers=0.01).astype(np.float64) + 1e3
    got = nearest_neighbours(query, support, K)
    assert_exact(got, query, support)
    assert got.fallback_rows < 0.01 * len(query)
    ints = rng.integers(-50, 50, size=(800, 12)) + 10**6  # int64 with an offset: many ties
    assert_exact(nearest_neighbours(ints[:90], ints, 7), ints[:90], ints, k=7)


@pytest.mark.parametrize("exclude_self", [False, True])
@pytest.mark.parametrize("levels", [2, 3])
def test_tie_heavy_integer_grids(exclude_self, levels):
    rng = np.random.default_rng(6 + levels)
    support = rng.integers(0, levels, size=(700, 5)).astype(np.float32)
    query = support if exclude_self else rng.integers(0, levels, size=(150, 5)).astype(np.float32)
    got = nearest_neighbours(query, support, 12, exclude_self=exclude_self, chunk_size=64)
    assert_exact(got, query, support, k=12, exclude_self=exclude_self)
    assert got.widened_rows > 0  # exact ties at the k-th neighbour: more than the first search was needed
    fast = nearest_neighbours(query, support, 12, exclude_self=exclude_self, exact_distances=False)
    assert_sets_and_bounds(fast, query, support, k=12, exclude_self=exclude_self)


def test_ties_past_every_widening_fall_back_to_float64():
    """More equal distances at the k-th neighbour than the widest candidate list: the full float64 pass."""
    rng = np.random.default_rng(7)
    support = np.vstack([np.ones((2000, 3)), rng.normal(size=(300, 3)) + 5]).astype(np.float32)
    query = np.array([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0], [5.0, 5.0, 5.0]], dtype=np.float32)
    got = nearest_neighbours(query, support, 5)
    assert_exact(got, query, support, k=5)
    assert got.fallback_rows == 2  # the two queries whose 2000 tied points straddle the k-th place


def test_one_outlier_row_regression():
    """One support row with 50x the median norm. The old proof (one float32 error bound per row from the largest
    support norm, probabilistic Higham-Mary constant) cannot settle most rows here; the per-pair bound with the
    triangle inequality settles them all in the first search."""
    rng = np.random.default_rng(8)
    support = activations(rng, 3000, d=128)
    support[17] *= 50.0
    query = activations(np.random.default_rng(9), 400, d=128)
    want_idx, want_d = brute(query, support, K + knn.EXTRA_CANDIDATES)
    # the old criterion, evaluated with exact distances: rows complete only if the last float32 candidate lies
    # beyond twice the max-norm error bound from the k-th
    d = query.shape[1]
    old_tolerance = 8.0 * np.sqrt(d + 4) * 2.0**-24
    old_err = old_tolerance * (np.linalg.norm(query, axis=1) + np.linalg.norm(support, axis=1).max()) ** 2
    old_incomplete = ~(want_d[:, -1] > want_d[:, K - 1] + 2 * old_err)
    assert old_incomplete.mean() > 0.5
    got = nearest_neighbours(query, support, K)
    np.testing.assert_array_equal(got.indices, want_idx[:, :K])
    np.testing.assert_array_equal(got.sq_distances, want_d[:, :K])
    assert got.fallback_rows + got.widened_rows <= 0.01 * len(query)


def test_explicit_cpu_device_equals_default(outlier_data):
    import torch

    query, support = outlier_data
    default = nearest_neighbours(query[:100], support, K)
    for device in ("cpu", torch.device("cpu")):
        got = nearest_neighbours(query[:100], support, K, device=device)
        np.testing.assert_array_equal(got.indices, default.indices)
        np.testing.assert_array_equal(got.sq_distances, default.sq_distances)


def test_device_code_path_on_the_cpu(monkeypatch, outlier_data):
    """The accelerator path (torch centring, float64 re-measurements with torch from a device copy of the support
    set, larger blocks) exercised on the CPU: the same neighbours; distances equal up to summation order."""
    monkeypatch.setattr(knn, "_on_host", lambda dev: False)
    query, support = outlier_data
    want_idx, want_d = brute(query, support, K)
    got = nearest_neighbours(query, support, K, device="cpu")
    np.testing.assert_array_equal(got.indices, want_idx)
    np.testing.assert_allclose(got.sq_distances, want_d, rtol=1e-12, atol=0)
    x = np.random.default_rng(10).integers(0, 3, size=(400, 4)).astype(np.float32)  # ties: widening, fallback
    monkeypatch.setattr(knn, "WIDENING", (8,))
    tied = nearest_neighbours(x, x, 12, exclude_self=True, device="cpu", chunk_size=100)
    assert_exact(tied, x, x, k=12, exclude_self=True)  # small integers: every float64 sum is exact
    assert tied.widened_rows > 0


def test_ieee_float32_inside_the_search_and_settings_restored(monkeypatch):
    import torch

    matmul = torch.backends.mkldnn.matmul
    if not hasattr(matmul, "fp32_precision"):
        pytest.skip("this torch has no fp32_precision settings")
    seen = []
    search = knn._smallest32

    def spy(*args, **kwargs):
        seen.append((matmul.fp32_precision, torch.backends.cuda.matmul.fp32_precision))
        return search(*args, **kwargs)

    monkeypatch.setattr(knn, "_smallest32", spy)
    before = (matmul.fp32_precision, torch.backends.cuda.matmul.fp32_precision, torch.backends.cudnn.fp32_precision)
    try:
        matmul.fp32_precision = "bf16"  # a user's reduced-precision setting
        torch.backends.cuda.matmul.fp32_precision = "tf32"
        x = np.random.default_rng(11).normal(size=(50, 8)).astype(np.float32)
        nearest_neighbours(x, x, 3, exclude_self=True)
        assert seen and all(s == ("ieee", "ieee") for s in seen)
        assert (matmul.fp32_precision, torch.backends.cuda.matmul.fp32_precision) == ("bf16", "tf32")
    finally:
        matmul.fp32_precision, torch.backends.cuda.matmul.fp32_precision, torch.backends.cudnn.fp32_precision = before


def test_prediction_depth_and_flow_on_an_explicit_device_equal_the_default():
    rng = np.random.default_rng(12)
    probes = [activations(rng, 300, d=d, outliers=0.01) for d in (16, 8, 4)]
    labels = rng.integers(0, 3, 300)
    predictions = rng.integers(0, 3, 300)
    queries = [p[:80] for p in probes]
    default = prediction_depth(queries, probes, labels, predictions[:80], k=7, progress=False)
    on_cpu = prediction_depth(queries, probes, labels, predictions[:80], k=7, progress=False, device="cpu")
    np.testing.assert_array_equal(on_cpu.votes, default.votes)
    np.testing.assert_array_equal(on_cpu.depth, default.depth)
    mask = np.arange(300) < 220
    flow = depth_flow(probes, labels, predictions, support_mask=mask)
    flow_cpu = depth_flow(probes, labels, predictions, support_mask=mask, device="cpu")
    assert flow.frame.equals(flow_cpu.frame)
    np.testing.assert_array_equal(flow.agreement, flow_cpu.agreement)
    np.testing.assert_array_equal(flow.vote_matches, flow_cpu.vote_matches)


def test_registry_passes_the_device_to_the_knn_measures():
    from difficulty_widget.measures import registry

    for name in ("prediction_depth", "depth_undetermined", "knn_agreement", "local_density"):
        assert "device" in registry.get(name).optional


def test_gpu_check_smoke_mode_on_the_cpu():
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "gpu_check.py"), "--device", "cpu", "--small"],
        capture_output=True, text=True, timeout=120, cwd=REPO,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    for precision in ("bf16", "fp32"):  # both searches, each checked against the float64 brute force
        assert f"k-NN {precision} (" in done.stdout and f"check {precision}" in done.stdout, done.stdout
    assert done.stdout.count("sample check passed") == 2 and "FAILED" not in done.stdout, done.stdout


@pytest.mark.parametrize("precision", ["bf16", "fp32"])
def test_exclude_self_at_an_offset(precision):
    """Queries that are support rows at an offset (a streamed block), some with no own row (-1)."""
    x = activations(np.random.default_rng(5), 900, d=300)
    query = x[300:600]
    own = np.arange(300, 600)
    own[::7] = -1  # these queries keep their own row as a neighbour
    got = nearest_neighbours(query, x, K, exclude_self=own, precision=precision)
    assert_exact(got, query, x, K, exclude_self=own)
    # a support set of k + 1 rows: rows without an own entry must still look at every row
    small = x[: K + 1]
    own_small = np.full(len(small), -1)
    own_small[0] = 0
    got = nearest_neighbours(small, small, K, exclude_self=own_small, precision=precision)
    want = brute(small, small, K)
    np.testing.assert_array_equal(got.indices[1:], want[0][1:])
    with pytest.raises(ValueError, match="support rows must lie in"):
        nearest_neighbours(query, x, K, exclude_self=np.full(300, 900))


def test_outsider_test_holds_for_every_smaller_bound():
    """``_no_outsider`` (the proof's test that no support point outside the candidates reaches the k-th bound),
    which the streamed search runs block by block with its current bound: wherever it rules the outsiders out
    for a bound, it does for every smaller one (and for every larger least value of theirs), and it never
    rules out a norm that lies where an outsider could be within the bound."""
    rng = np.random.default_rng(21)
    nu_sorted = np.sort(rng.uniform(0.5, 20.0, 4000))
    n = 20000
    mu = rng.uniform(0.5, 20.0, n)
    kth = rng.uniform(0.0, 40.0, n)
    v_last = kth * rng.uniform(0.9, 3.0, n)
    eta = np.full(n, 1e-30)
    slope = rng.uniform(0.0, 0.05, n)
    for constants in ((1e-3, 1.0), (2e-3, 1 - 2.0**-8, slope)):
        clear = knn._no_outsider(nu_sorted, mu, v_last, kth, eta, *constants)
        assert 0.05 < clear.mean() < 0.95  # both answers occur
        smaller = knn._no_outsider(nu_sorted, mu, v_last, kth * rng.uniform(0.0, 1.0, n), eta, *constants)
        higher = knn._no_outsider(nu_sorted, mu, v_last * rng.uniform(1.0, 2.0, n), kth, eta, *constants)
        assert (smaller | ~clear).all() and (higher | ~clear).all()
        # a norm b with (b - |x|)^2 <= kth and a value error reaching the gap is never ruled out
        for i in np.flatnonzero(clear)[:500]:
            b = nu_sorted[(nu_sorted - mu[i]) ** 2 <= kth[i]]
            err = constants[0] * (mu[i] + b) ** 2 + (constants[2][i] * b if len(constants) > 2 else 0.0)
            assert (constants[1] * v_last[i] - err - eta[i] > kth[i]).all()
