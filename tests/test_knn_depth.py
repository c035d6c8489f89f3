"""k-NN engine and prediction depth against an independent brute force (plain numpy, per query, full sort),
on data with many exact distance and vote ties, plus a 3-probe case worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from difficulty_widget.measures import majority_vote, nearest_neighbours, prediction_depth
from difficulty_widget.measures.depth import depth_from_votes


def brute_neighbours(query, support, k, exclude_self):
    out = []
    for i, q in enumerate(np.asarray(query, dtype=np.float64)):
        d = ((np.asarray(support, dtype=np.float64) - q) ** 2).sum(1)
        candidates = [j for j in range(len(d)) if not (exclude_self and j == i)]
        order = sorted(candidates, key=lambda j: (d[j], j))[:k]
        out.append((order, [d[j] for j in order]))
    return out


def brute_vote(labels, dists):
    counts, sums = {}, {}
    for y, d in zip(labels, dists, strict=True):
        counts[y] = counts.get(y, 0) + 1
        sums[y] = sums.get(y, 0.0) + d
    best = max(counts.values())
    return min((sums[c], c) for c in counts if counts[c] == best)[1]


def brute_depth(query_probes, support_probes, support_labels, predictions, k, exclude_self):
    votes = np.array(
        [
            [brute_vote(support_labels[idx], d) for idx, d in brute_neighbours(q, s, k, exclude_self)]
            for q, s in zip(query_probes, support_probes, strict=True)
        ]
    ).T
    depths = []
    for v, p in zip(votes, predictions, strict=True):
        depths.append(next((layer for layer in range(len(v)) if (v[layer:] == p).all()), len(v)))
    return np.array(depths), votes


def tie_heavy(rng, n, d, levels=3):
    return rng.integers(0, levels, size=(n, d)).astype(np.float32)  # integer values: many exact ties


@pytest.mark.parametrize("widen", [True, False])
@pytest.mark.parametrize("exclude_self", [False, True])
def test_neighbours_equal_brute_force_with_many_ties(monkeypatch, exclude_self, widen):
    from difficulty_widget.measures import knn

    if not widen:
        monkeypatch.setattr(knn, "WIDENING", ())  # rows not proven go straight to the full float64 pass
    rng = np.random.default_rng(0)
    support = tie_heavy(rng, 120, 4)
    query = support if exclude_self else tie_heavy(rng, 60, 4)
    got = nearest_neighbours(query, support, 9, exclude_self=exclude_self, chunk_size=17)
    want = brute_neighbours(query, support, 9, exclude_self)
    np.testing.assert_array_equal(got.indices, [w[0] for w in want])
    np.testing.assert_array_equal(got.sq_distances, [w[1] for w in want])
    # ties at the k-th neighbour: the wider search (or, without it, the exact float64 path) was exercised
    assert got.widened_rows > 0 and (got.fallback_rows == 0 if widen else got.fallback_rows == got.widened_rows)


def test_neighbours_on_continuous_data_rarely_fall_back():
    rng = np.random.default_rng(1)
    support = rng.normal(size=(500, 32))
    query = rng.normal(size=(80, 32))
    got = nearest_neighbours(query, support, 10)
    want = brute_neighbours(query, support, 10, False)
    np.testing.assert_array_equal(got.indices, [w[0] for w in want])
    np.testing.assert_allclose(got.sq_distances, [w[1] for w in want], rtol=0, atol=0)
    assert got.fallback_rows <= 2


def test_vote_ties_go_to_the_smaller_distance_sum_then_the_smaller_class():
    labels = np.array([[0, 1], [0, 1], [2, 1], [1, 1]])
    dists = np.array([[0.25, 0.25], [0.16, 0.36], [0.5, 0.1], [0.1, 0.2]])
    assert majority_vote(labels, dists, 3).tolist() == [0, 0, 1, 1]


def test_hand_made_three_probe_case():
    support = [np.array([[0.0], [1.0], [2.0], [3.0]])] * 3
    labels = np.array([0, 0, 1, 1])
    query = [np.array([[1.5], [0.1], [3.0]]), np.array([[2.2], [2.9], [3.0]]), np.array([[3.1], [0.4], [0.0]])]
    predictions = np.array([1, 0, 1])
    result = prediction_depth(query, support, labels, predictions, k=1, progress=False)
    # query 0: votes 0 (tie 1.5: index 1 wins), 1, 1 -> depth 1; query 1: 0, 1, 0 -> depth 2;
    # query 2: 1, 1, 0 and prediction 1 -> the last probe disagrees: depth 3, undetermined
    assert result.votes.tolist() == [[0, 1, 1], [0, 1, 0], [1, 1, 0]]
    assert result.depth.tolist() == [1, 2, 3]
    assert result.undetermined.tolist() == [False, False, True]
    assert list(result.to_frame().columns) == ["prediction_depth", "depth_undetermined"]


@pytest.mark.parametrize("exclude_self", [False, True])
def test_prediction_depth_equals_brute_force(exclude_self):
    rng = np.random.default_rng(2)
    n_s = 90
    support = [tie_heavy(rng, n_s, d) for d in (6, 3, 2)]
    query = support if exclude_self else [tie_heavy(rng, 40, d) for d in (6, 3, 2)]
    labels = rng.integers(0, 3, n_s)
    predictions = rng.integers(0, 3, len(query[0]))
    got = prediction_depth(query, support, labels, predictions, k=6, exclude_self=exclude_self, progress=False)
    depth, votes = brute_depth(query, support, labels, predictions, 6, exclude_self)
    np.testing.assert_array_equal(got.votes, votes)
    np.testing.assert_array_equal(got.depth, depth)
    np.testing.assert_array_equal(got.undetermined, depth == 3)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 6), st.integers(1, 8), st.integers(0, 2**32 - 1))
def test_depth_from_votes_matches_its_definition(n_probes, n, seed):
    rng = np.random.default_rng(seed)
    votes = rng.integers(0, 2, (n, n_probes))
    predictions = rng.integers(0, 2, n)
    depth, undetermined = depth_from_votes(votes, predictions)
    for i in range(n):
        want = next((layer for layer in range(n_probes) if (votes[i, layer:] == predictions[i]).all()), n_probes)
        assert depth[i] == want and undetermined[i] == (votes[i, -1] != predictions[i])


def test_bad_input():
    x = np.zeros((5, 2))
    with pytest.raises(ValueError, match="larger than n_support - 1"):
        nearest_neighbours(x, x, 5, exclude_self=True)
    with pytest.raises(ValueError, match="larger than n_support"):
        nearest_neighbours(x, x, 6)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        nearest_neighbours(x, x, 0)
    with pytest.raises(ValueError, match="NaN"):
        nearest_neighbours(np.array([[np.nan, 0.0]]), x, 1)
    with pytest.raises(ValueError, match="features"):
        nearest_neighbours(np.zeros((2, 3)), x, 1)
    with pytest.raises(ValueError, match="equally long"):
        prediction_depth([x, x], [x], np.zeros(5, int), np.zeros(5, int))
    with pytest.raises(ValueError, match="probe 1 has 4 query"):
        prediction_depth([x, x[:4]], [x, x], np.zeros(5, int), np.zeros(5, int))
    with pytest.raises(ValueError, match="support_labels has length 4"):
        prediction_depth([x], [x], np.zeros(4, int), np.zeros(5, int))
    with pytest.raises(ValueError, match="sequences of arrays"):
        prediction_depth(x, x, np.zeros(5, int), np.zeros(5, int))


@pytest.mark.parametrize("exclude_self", [False, True])
@pytest.mark.parametrize("chunk_size", [None, 7])
def test_support_column_blocks_equal_brute_force(monkeypatch, exclude_self, chunk_size):
    """Products split into many support-column blocks (some narrower than k + 16), merged per chunk."""
    from difficulty_widget.measures import knn

    monkeypatch.setattr(knn, "_BLOCK_DISTANCES", 300)
    rng = np.random.default_rng(3)
    support = tie_heavy(rng, 150, 3)
    query = support if exclude_self else tie_heavy(rng, 50, 3)
    want = brute_neighbours(query, support, 8, exclude_self)
    got = nearest_neighbours(query, support, 8, exclude_self=exclude_self, chunk_size=chunk_size)
    np.testing.assert_array_equal(got.indices, [w[0] for w in want])
    np.testing.assert_array_equal(got.sq_distances, [w[1] for w in want])
    fast = nearest_neighbours(
        query, support, 8, exclude_self=exclude_self, chunk_size=chunk_size, exact_distances=False
    )
    np.testing.assert_array_equal(np.sort(fast.indices, axis=1), np.sort([w[0] for w in want], axis=1))


def test_near_ties_within_float32_error_are_settled_in_float64():
    """Away from the origin float32 distances carry errors larger than the gaps between neighbours: the band
    around each row's k-th candidate holds several points and is settled by float64 re-measurement alone."""
    rng = np.random.default_rng(4)
    support = 3.0 + rng.normal(scale=0.05, size=(400, 16))
    query = 3.0 + rng.normal(scale=0.05, size=(30, 16))
    want = brute_neighbours(query, support, 12, False)
    got = nearest_neighbours(query, support, 12, exact_distances=False)
    assert got.fallback_rows == 0  # the band path, not the full float64 pass
    np.testing.assert_array_equal(np.sort(got.indices, axis=1), np.sort([w[0] for w in want], axis=1))
    remeasured = ((support[got.indices] - query[:, None, :]) ** 2).sum(-1)
    assert (np.abs(got.sq_distances - remeasured) <= got.error_bounds[:, None]).all()
    exact = nearest_neighbours(query, support, 12)
    np.testing.assert_array_equal(exact.indices, [w[0] for w in want])
    np.testing.assert_array_equal(exact.sq_distances, [w[1] for w in want])


@pytest.mark.parametrize("width", [1000, 3001, 20000])
@pytest.mark.parametrize("n", [1, 7, 46])
def test_group_search_finds_the_smallest_values(width, n):
    """The search through column-group minima returns the n smallest values of each row (any of equal ones) and
    their columns, with many ties, infinite entries and columns left over from the groups."""
    import torch

    from difficulty_widget.measures.knn import _smallest_unsorted

    rng = np.random.default_rng(width + n)
    x = torch.from_numpy(rng.integers(0, 40, size=(13, width)).astype(np.float32))
    x[0, :] = 7.0  # one value everywhere
    x[1, ::3] = float("inf")
    x[2] = torch.from_numpy(rng.normal(size=width).astype(np.float32))
    vals, cols = _smallest_unsorted(x, n)
    want = torch.topk(x, n, dim=1, largest=False, sorted=True).values
    assert torch.equal(torch.sort(vals, dim=1).values, want)
    assert torch.equal(x.gather(1, cols), vals)
    assert all(len(set(row.tolist())) == n for row in cols)


@pytest.mark.parametrize("exclude_self", [False, True])
def test_wide_support_equals_brute_force(exclude_self):
    """Enough support points that each row is searched through column-group minima, with many exact ties."""
    rng = np.random.default_rng(5)
    support = tie_heavy(rng, 1500, 3, levels=4)
    query = support[::25] if not exclude_self else support
    want = brute_neighbours(query, support, 5, exclude_self)
    got = nearest_neighbours(query, support, 5, exclude_self=exclude_self)
    np.testing.assert_array_equal(got.indices, [w[0] for w in want])
    np.testing.assert_array_equal(got.sq_distances, [w[1] for w in want])
    fast = nearest_neighbours(query, support, 5, exclude_self=exclude_self, exact_distances=False)
    np.testing.assert_array_equal(np.sort(fast.indices, axis=1), np.sort([w[0] for w in want], axis=1))
