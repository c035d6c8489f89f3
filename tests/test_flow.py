"""Layer-wise difficulty flow: per-probe k-NN label agreement and vote matches from prediction depth's neighbours,
their tables in an Analysis, and the per-layer statistics of the flow view.

Expected values come from an independent brute force here: a full float64 distance matrix per probe, a stable
argsort (ties by the lower support index), the first k columns (a training row's own column masked out), and the
vote rule of DESIGN.md (most frequent label, ties by the smaller sum of squared distances, then the smaller class).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import difficulty_widget as dw
from difficulty_widget.extract import extract, train_small_model
from difficulty_widget.measures import prediction_depth, registry
from difficulty_widget.measures.depth import depth_flow, depth_scores
from difficulty_widget.measures.flow import flow_summary, layer_tables, select_by_layer_range
from difficulty_widget.pipeline.demo import demo_data


def brute_flow(query, support, support_labels, query_labels, predictions, k, exclude_self):
    """Per probe: agreement (float64), votes, and vote == prediction, by full distance matrices."""
    n_q, n_probes = len(query[0]), len(query)
    agreement = np.empty((n_q, n_probes))
    votes = np.empty((n_q, n_probes), dtype=np.int64)
    for layer, (q, s) in enumerate(zip(query, support, strict=True)):
        q, s = np.asarray(q, dtype=np.float64), np.asarray(s, dtype=np.float64)
        d = ((q[:, None, :] - s[None, :, :]) ** 2).sum(-1)
        if exclude_self:
            np.fill_diagonal(d, np.inf)
        neighbours = np.argsort(d, axis=1, kind="stable")[:, :k]
        for i, row in enumerate(neighbours):
            labels, dists = support_labels[row], d[i, row]
            agreement[i, layer] = np.mean(labels == query_labels[i])
            counts = {c: int((labels == c).sum()) for c in set(labels.tolist())}
            best = max(counts.values())
            votes[i, layer] = min((dists[labels == c].sum(), c) for c in counts if counts[c] == best)[1]
    return agreement, votes, votes == predictions[:, None]


def brute_depth(matches):
    n_probes = matches.shape[1]
    return np.array([next((lay for lay in range(n_probes) if row[lay:].all()), n_probes) for row in matches])


def clustered(rng, labels, dim, spread):
    """Class means plus noise: neighbours share labels often but not always (agreement between 0 and 1)."""
    means = rng.normal(size=(labels.max() + 1, dim))
    return (means[labels] + spread * rng.normal(size=(len(labels), dim))).astype(np.float32)


@pytest.fixture(scope="module")
def table_problem():
    """110 rows in 3 classes, 75 training rows scattered among them, three probes (the last with exact ties)."""
    rng = np.random.default_rng(0)
    n = 110
    labels = rng.integers(0, 3, n)
    support_mask = np.zeros(n, dtype=bool)
    support_mask[rng.choice(n, 75, replace=False)] = True
    probes = [
        clustered(rng, labels, 6, 1.5),
        clustered(rng, labels, 4, 0.7),
        rng.integers(0, 3, size=(n, 2)).astype(np.float32) + labels[:, None],
    ]
    predictions = np.where(rng.random(n) < 0.8, labels, rng.integers(0, 3, n))
    return probes, labels, predictions, support_mask


def test_table_flow_equals_brute_force_for_training_and_test_rows(table_problem):
    probes, labels, predictions, support_mask = table_problem
    flow = depth_flow(probes, labels, predictions, support_mask=support_mask)
    train, test = np.flatnonzero(support_mask), np.flatnonzero(~support_mask)
    support = [p[train] for p in probes]
    want_agreement = np.empty((len(labels), len(probes)))
    want_matches = np.empty((len(labels), len(probes)), dtype=bool)
    for rows, exclude_self in ((train, True), (test, False)):
        agreement, _, matches = brute_flow(
            [p[rows] for p in probes], support, labels[train], labels[rows], predictions[rows], 30, exclude_self
        )
        want_agreement[rows], want_matches[rows] = agreement, matches
    assert flow.agreement.dtype == np.float32 and flow.vote_matches.dtype == bool
    assert flow.agreement.shape == flow.vote_matches.shape == (len(labels), len(probes))
    np.testing.assert_array_equal(flow.agreement, want_agreement.astype(np.float32))
    np.testing.assert_array_equal(flow.vote_matches, want_matches)
    assert 0 < want_agreement.mean() < 1 and 0 < want_matches.mean() < 1  # neither all nor nothing
    # the depth columns are those of the registry adapter, and follow from the vote matches
    pd.testing.assert_frame_equal(flow.frame, depth_scores(probes, labels, predictions, support_mask=support_mask))
    np.testing.assert_array_equal(flow.frame["prediction_depth"], brute_depth(want_matches))
    np.testing.assert_array_equal(flow.frame["depth_undetermined"], ~want_matches[:, -1])


@pytest.mark.parametrize("exclude_self", [False, True])
def test_prediction_depth_with_query_labels_equals_brute_force_on_tie_heavy_data(exclude_self):
    rng = np.random.default_rng(1)
    n_s = 90
    support = [rng.integers(0, 3, size=(n_s, d)).astype(np.float32) for d in (5, 3, 2)]
    query = support if exclude_self else [rng.integers(0, 3, size=(40, d)).astype(np.float32) for d in (5, 3, 2)]
    support_labels = rng.integers(0, 3, n_s)
    # query labels include a class no support point has: its agreement is 0 everywhere
    query_labels = support_labels if exclude_self else rng.integers(0, 4, len(query[0]))
    predictions = rng.integers(0, 3, len(query[0]))
    got = prediction_depth(
        query, support, support_labels, predictions, k=7, exclude_self=exclude_self, chunk_size=16,
        progress=False, query_labels=query_labels,
    )  # fmt: skip
    agreement, votes, matches = brute_flow(query, support, support_labels, query_labels, predictions, 7, exclude_self)
    np.testing.assert_array_equal(got.agreement, agreement.astype(np.float32))
    np.testing.assert_array_equal(got.vote_matches, matches)
    np.testing.assert_array_equal(got.votes, votes)
    plain = prediction_depth(
        query, support, support_labels, predictions, k=7, exclude_self=exclude_self, progress=False
    )
    assert plain.agreement is None  # no labels, no agreement; the depth itself is the same either way
    np.testing.assert_array_equal(plain.votes, got.votes)
    np.testing.assert_array_equal(plain.depth, got.depth)
    np.testing.assert_array_equal(plain.depth, brute_depth(matches))
    with pytest.raises(ValueError, match="query_labels has length 3"):
        prediction_depth(query, support, support_labels, predictions, k=7, query_labels=[0, 1, 2], progress=False)


def test_flow_summary_equals_numpy_on_a_subset(table_problem):
    probes, labels, predictions, support_mask = table_problem
    flow = depth_flow(probes, labels, predictions, support_mask=support_mask)
    ids = 1000 + np.arange(len(labels))
    tables = layer_tables(ids, flow.agreement, flow.vote_matches, ["a", "b", "c"])
    stored = tables["layer_agreement"][["a", "b", "c"]].to_numpy().copy()
    stored[::7, 1] = np.nan  # missing values are left out, not counted
    rows = np.flatnonzero(labels == 1)
    want = stored[rows].astype(np.float64)
    for given in (rows, labels == 1):
        summary = flow_summary(stored, given, probe_names=["a", "b", "c"])
        assert summary.columns.tolist() == ["layer", "probe", "median", "q25", "q75", "mean", "n"]
        assert summary["layer"].tolist() == [0, 1, 2] and summary["probe"].tolist() == ["a", "b", "c"]
        np.testing.assert_allclose(summary["median"], np.nanmedian(want, axis=0), rtol=1e-12)
        np.testing.assert_allclose(summary["q25"], np.nanpercentile(want, 25, axis=0), rtol=1e-12)
        np.testing.assert_allclose(summary["q75"], np.nanpercentile(want, 75, axis=0), rtol=1e-12)
        np.testing.assert_allclose(summary["mean"], np.nanmean(want, axis=0), rtol=1e-12)
        np.testing.assert_array_equal(summary["n"], (~np.isnan(want)).sum(axis=0))
    assert summary["n"][1] < len(rows)  # the NaNs were in the subset
    # the stored table itself: probe names from its columns, every row when rows is None
    whole = flow_summary(tables["layer_agreement"])
    assert whole["probe"].tolist() == ["a", "b", "c"] and whole["n"].tolist() == [len(labels)] * 3
    np.testing.assert_allclose(whole["median"], np.median(flow.agreement.astype(np.float64), axis=0), rtol=1e-12)
    # vote matches: the mean is the share of votes equal to the prediction
    matches = flow_summary(tables["layer_vote_matches"], rows)
    np.testing.assert_allclose(matches["mean"], flow.vote_matches[rows].mean(axis=0), rtol=1e-12)
    # a layer without any value in the subset: NaN statistics, n = 0, and no warning
    empty = stored.copy()
    empty[rows, 2] = np.nan
    with np.errstate(all="raise"):
        last = flow_summary(empty, rows).iloc[2]
    assert last["n"] == 0 and np.isnan(last[["median", "q25", "q75", "mean"]].to_numpy(dtype=float)).all()
    assert "probe" not in flow_summary(empty, rows).columns


def test_select_by_layer_range_is_what_a_brush_selects():
    rng = np.random.default_rng(2)
    agreement = rng.integers(0, 31, size=(200, 4)).astype(np.float32) / 30
    agreement[5, 2] = np.nan
    names = ["input", "block1", "head", "logits"]
    table = pd.DataFrame({"id": np.arange(200) + 7, **{n: agreement[:, i] for i, n in enumerate(names)}})
    want = np.flatnonzero((agreement[:, 2] >= 0.2) & (agreement[:, 2] <= 0.5))  # bounds included, NaN out
    got = select_by_layer_range(agreement, 2, 0.2, 0.5)
    assert got.dtype == np.int64 and 5 not in got
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(select_by_layer_range(table, "head", 0.2, 0.5), want)
    np.testing.assert_array_equal(select_by_layer_range(agreement, "head", 0.2, 0.5, probe_names=names), want)
    assert select_by_layer_range(agreement, 0, 0.0, 1.0).size == 200
    assert select_by_layer_range(agreement, 0, 2.0, 3.0).size == 0
    with pytest.raises(ValueError, match=r"not a probe; valid probe names: \['input', 'block1', 'head', 'logits'\]"):
        select_by_layer_range(table, "block9", 0, 1)
    with pytest.raises(ValueError, match="no probe names are known"):
        select_by_layer_range(agreement, "head", 0, 1)
    with pytest.raises(ValueError, match=r"layer must be a probe name or an index in \[0, 4\)"):
        select_by_layer_range(agreement, 4, 0, 1)
    with pytest.raises(ValueError, match="low must not exceed high"):
        select_by_layer_range(agreement, 0, 0.6, 0.5)
    with pytest.raises(ValueError, match="high must not be NaN"):
        select_by_layer_range(agreement, 0, 0.1, float("nan"))


def test_bad_inputs_name_the_argument():
    agreement = np.full((4, 2), 0.5, dtype=np.float32)
    with pytest.raises(ValueError, match=r"rows must be positions in \[0, 4\)"):
        flow_summary(agreement, [0, 4])
    with pytest.raises(ValueError, match=r"rows as a mask must have shape \(4,\)"):
        flow_summary(agreement, np.ones(3, dtype=bool))
    with pytest.raises(ValueError, match="rows must be a 1-D array of integer positions"):
        flow_summary(agreement, [0.5])
    with pytest.raises(ValueError, match="agreement must be a 2-D array"):
        flow_summary(agreement[:, 0])
    with pytest.raises(ValueError, match="probe_names has 3 names, expected 2"):
        flow_summary(agreement, probe_names=["a", "b", "c"])
    with pytest.raises(ValueError, match="probe_names must be unique"):
        flow_summary(agreement, probe_names=["a", "a"])
    with pytest.raises(ValueError, match="must not contain 'id'"):
        layer_tables(np.arange(4), agreement, agreement > 0, ["id", "b"])
    with pytest.raises(ValueError, match="vote_matches must be a bool array of shape"):
        layer_tables(np.arange(4), agreement, agreement, ["a", "b"])
    with pytest.raises(ValueError, match=r"ids must have shape \(4,\)"):
        layer_tables(np.arange(3), agreement, agreement > 0, ["a", "b"])


def test_precomputed_frames_are_used_instead_of_a_second_call(table_problem):
    probes, labels, predictions, _ = table_problem
    marker = pd.DataFrame({"prediction_depth": np.zeros(len(labels), int), "depth_undetermined": False})
    inputs = {"probes": probes, "labels": labels, "predictions": predictions}
    out = registry.compute_available(inputs, names=["prediction_depth"], precomputed={depth_scores: marker})
    pd.testing.assert_frame_equal(out, marker)


@pytest.fixture(scope="module")
def run():
    data = demo_data("digits")
    train = data.where_split("train").subset(np.arange(300))
    test = data.where_split("test").subset(np.arange(100))
    result = train_small_model(train, "cnn", epochs=2, seed=0, progress=False)
    return train, test, result.model, dw.analyze(result.model, train, test, progress=False)


def test_analyze_writes_both_tables_aligned_with_the_rows(run, tmp_path):
    train, test, model, analysis = run
    df, probe_names = analysis.df, list(analysis.provenance["depth_probes"])
    assert probe_names == ["input", "block1", "block2", "block3", "head", "logits"]
    agreement, matches = analysis.tables["layer_agreement"], analysis.tables["layer_vote_matches"]
    for table, dtype in ((agreement, np.float32), (matches, np.bool_)):
        assert table.columns.tolist() == ["id", *probe_names]
        assert (table[probe_names].dtypes == dtype).all()
        np.testing.assert_array_equal(table["id"], df["id"])
    # brute force from the same embeddings: training rows among themselves, test rows against them
    kwargs = {"probes": probe_names, "max_probe_dim": 4096, "progress": False}
    tr, te = extract(model, train, **kwargs), extract(model, test, **kwargs)
    support = [tr.probes[p] for p in probe_names]
    own = brute_flow(support, support, train.labels, train.labels, tr.predictions, 30, True)
    held = brute_flow(
        [te.probes[p] for p in probe_names], support, train.labels, test.labels, te.predictions, 30, False
    )
    want_agreement = np.concatenate([own[0], held[0]]).astype(np.float32)
    want_matches = np.concatenate([own[2], held[2]])
    np.testing.assert_array_equal(agreement[probe_names].to_numpy(), want_agreement)
    np.testing.assert_array_equal(matches[probe_names].to_numpy(), want_matches)
    # consistent with the columns: depth from the vote matches; the features probe's agreement is knn_agreement
    np.testing.assert_array_equal(df["prediction_depth"], brute_depth(want_matches))
    np.testing.assert_array_equal(agreement["head"], df["knn_agreement"].to_numpy().astype(np.float32))
    # saved and loaded exactly
    loaded = dw.Analysis.load(analysis.save(tmp_path / "flow.parquet"))
    for name in ("layer_agreement", "layer_vote_matches"):
        pd.testing.assert_frame_equal(loaded.tables[name], analysis.tables[name])
    assert list(loaded.provenance["depth_probes"]) == probe_names


def test_analysis_from_extraction_records_probe_order_and_skips_tables_without_depth(run):
    train, _, model, _ = run
    extraction = extract(model, train, probes=["block2", "head", "logits"], progress=False)
    with_depth = dw.analysis_from_extraction(extraction, depth_probes=["logits", "head"])
    assert with_depth.provenance["depth_probes"] == ["logits", "head"]
    assert with_depth.tables["layer_agreement"].columns.tolist() == ["id", "logits", "head"]
    flow = depth_flow([extraction.probes["logits"], extraction.probes["head"]], train.labels, extraction.predictions)
    np.testing.assert_array_equal(with_depth.tables["layer_agreement"][["logits", "head"]], flow.agreement)
    without = dw.analysis_from_extraction(extraction, features_probe="head")
    assert "layer_agreement" not in without.tables and "depth_probes" not in without.provenance
