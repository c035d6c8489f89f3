"""analyze() in one call: training and test rows, prediction depth, data scores and training dynamics.

Expected values come from independent computations here: the depth and data functions called on the split
arrays directly, and plain-numpy k-NN (full sort by (distance, index)) for test rows against the training set.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import difficulty_widget as dw
from difficulty_widget.extract import DynamicsRecorder, extract, make_model, train_model, train_small_model
from difficulty_widget.measures import (
    data_map,
    forgetting_events,
    iteration_learned,
    knn_label_agreement,
    prediction_depth,
)
from difficulty_widget.measures.data import data_scores
from difficulty_widget.measures.support import SupportRows
from difficulty_widget.pipeline.demo import demo_data
from difficulty_widget.widget.transport import table_to_ipc

DEPTH = ["prediction_depth", "depth_undetermined"]
DATA = ["knn_agreement", "centroid_distance", "local_density", "class_frequency"]
DYNAMICS = ["dm_confidence", "dm_variability", "dm_correctness", "dm_region", "forgetting_events", "never_learned",
            "aum", "iteration_learned", "learned_undefined", "mean_loss", "el2n_early", "first_learned",
            "first_forgotten", "unforgettable", "diq_aleatoric", "diq_region"]  # fmt: skip
LABEL_ISSUES = ["label_issue", "label_issue_score", "suggested_label"]


@pytest.fixture(scope="module")
def run():
    data = demo_data("digits")
    train, test = data.where_split("train"), data.where_split("test")
    result = train_small_model(train, "cnn", epochs=3, seed=0, record_logits=True, progress=False)
    analysis = dw.analyze(result.model, train, test, logits_per_epoch=result, progress=False)
    return train, test, result, analysis


def brute_knn(query, support, k, exclude_self):
    """Neighbour indices by a full float64 sort on (distance, index)."""
    q, s = query.astype(np.float64), support.astype(np.float64)
    out = []
    for i, row in enumerate(q):
        d = ((s - row) ** 2).sum(axis=1)
        order = np.lexsort((np.arange(len(s)), d))
        if exclude_self:
            order = order[order != i]
        out.append(order[:k])
    return np.array(out)


def test_every_perspective_fills_its_columns(run):
    train, test, _, analysis = run
    df = analysis.df
    assert len(df) == len(train) + len(test)
    assert df["split"].astype(str).tolist() == ["train"] * len(train) + ["test"] * len(test)
    np.testing.assert_array_equal(df["id"], np.concatenate([train.ids, test.ids]))
    for column in ["confidence", "margin", "loss", *DEPTH, *DATA, *DYNAMICS, *LABEL_ISSUES]:
        assert column in df.columns, column
    assert set(analysis.score_columns) >= {"prediction_depth", "knn_agreement", "aum", "dm_confidence"}
    is_train = (df["split"] == "train").to_numpy()
    assert df.loc[is_train, DYNAMICS].notna().all().all()
    assert df.loc[~is_train, DYNAMICS].isna().all().all()  # no training dynamics for test rows
    assert df.loc[is_train, LABEL_ISSUES].notna().all().all()  # the flag is for training labels
    assert df.loc[~is_train, LABEL_ISSUES].isna().all().all()
    assert df[DEPTH + DATA].notna().all().all()
    assert analysis.provenance["features_probe"] == "head" and analysis.provenance["k"] == 30
    assert list(analysis.provenance["depth_probes"]) == ["input", "block1", "block2", "block3", "head", "logits"]


def test_depth_of_training_rows_excludes_self_and_test_rows_use_the_training_set(run):
    train, test, result, analysis = run
    tr = extract(result.model, train, probes="default", progress=False)
    te = extract(result.model, test, probes="default", progress=False)
    train_probes, test_probes = list(tr.probes.values()), list(te.probes.values())
    own = prediction_depth(train_probes, train_probes, train.labels, tr.predictions, exclude_self=True, progress=False)
    held = prediction_depth(test_probes, train_probes, train.labels, te.predictions, progress=False)
    df = analysis.df
    np.testing.assert_array_equal(df["prediction_depth"], np.concatenate([own.depth, held.depth]))
    np.testing.assert_array_equal(df["depth_undetermined"], np.concatenate([own.undetermined, held.undetermined]))


def test_data_scores_of_test_rows_are_measured_against_the_training_set(run):
    train, test, result, analysis = run
    features_train = extract(result.model, train, probes=["head"], progress=False).probes["head"]
    features_test = extract(result.model, test, probes=["head"], progress=False).probes["head"]
    df = analysis.df
    test_rows = df[df["split"] == "test"]
    idx = brute_knn(features_test, features_train, 30, exclude_self=False)
    np.testing.assert_allclose(test_rows["knn_agreement"], (train.labels[idx] == test.labels[:, None]).mean(axis=1))
    dist = np.sqrt(((features_test[:, None, :].astype(np.float64) - features_train[idx]) ** 2).sum(axis=2))
    np.testing.assert_allclose(test_rows["local_density"], dist.mean(axis=1), rtol=1e-5)
    for c in range(10):
        members = features_train[train.labels == c].astype(np.float64)
        centroid = members.mean(axis=0)
        median = np.median(np.linalg.norm(members - centroid, axis=1))
        expected = np.linalg.norm(features_test[test.labels == c] - centroid, axis=1) / median
        np.testing.assert_allclose(test_rows.loc[test.labels == c, "centroid_distance"], expected, rtol=1e-5)
    np.testing.assert_allclose(test_rows["class_frequency"], np.bincount(train.labels)[test.labels] / len(train))
    train_rows = df[df["split"] == "train"].reset_index(drop=True)
    own = data_scores(features_train, train.labels)  # the training rows alone: unaffected by the test rows
    pd.testing.assert_frame_equal(train_rows[DATA], own, check_dtype=False)


def test_dynamics_of_training_rows_come_from_the_recorded_logits(run):
    train, _, result, analysis = run
    z = result.logits_per_epoch.astype(np.float64)
    assert z.shape == (3, len(train), 10)
    rows = analysis.df[analysis.df["split"] == "train"].reset_index(drop=True)
    expected = data_map(z, train.labels)
    np.testing.assert_allclose(rows["dm_confidence"], expected["dm_confidence"])
    assert rows["dm_region"].astype(str).tolist() == expected["dm_region"].astype(str).tolist()
    correct = z.argmax(axis=2) == train.labels[None, :]
    np.testing.assert_array_equal(rows["forgetting_events"], forgetting_events(correct, rank_never_learned=True)[0])
    np.testing.assert_array_equal(rows["iteration_learned"], iteration_learned(correct)[0])
    margin = np.take_along_axis(z, train.labels[None, :, None], axis=2)[..., 0] - np.where(
        np.arange(10)[None, None, :] == train.labels[None, :, None], -np.inf, z
    ).max(axis=2)
    np.testing.assert_allclose(rows["aum"], margin.mean(axis=0), rtol=1e-12)


def test_one_table_with_splits_gives_the_same_scores_as_train_and_test_apart(run):
    *_, result, analysis = run
    data = demo_data("digits")  # the same rows, interleaved splits in one ImageData
    together = dw.analyze(result.model, data, logits_per_epoch=result, progress=False)
    aligned = together.df.set_index("id").loc[analysis.df["id"]].reset_index()
    columns = ["confidence", *DEPTH, *DATA, "aum", "dm_confidence", "forgetting_events"]
    pd.testing.assert_frame_equal(aligned[columns], analysis.df[columns], check_dtype=False)


def test_without_a_training_split_every_row_is_the_training_set(digits):
    data = digits.subset(np.arange(300))  # no split information
    model = make_model("mlp", 10, (8, 8), seed=0)
    analysis = dw.analyze(model, data, progress=False)
    probes = extract(model, data, probes="default", progress=False).probes
    penultimate = list(probes.values())[-2]
    assert analysis.provenance["training_rows"] == "all rows"
    assert analysis.provenance["features_probe"] == list(probes)[-2]
    np.testing.assert_allclose(analysis.df["knn_agreement"], knn_label_agreement(penultimate, data.labels, k=30))
    assert analysis.df[DEPTH + DATA].notna().all().all()


def test_analysis_with_missing_dynamics_round_trips_and_travels(run, tmp_path):
    *_, analysis = run
    loaded = dw.Analysis.load(analysis.save(tmp_path / "a.parquet"))
    pd.testing.assert_frame_equal(loaded.df, analysis.df)
    assert str(loaded.df["never_learned"].dtype) == "boolean" and str(loaded.df["forgetting_events"].dtype) == "Int64"
    import pyarrow as pa

    table = pa.ipc.open_stream(table_to_ipc(analysis.df)).read_all()
    never = table.column("never_learned").to_numpy()
    assert never.dtype == np.float32 and np.isnan(never[analysis.df["split"] == "test"]).all()
    explorer = dw.Explorer(analysis)
    explorer.select("forgetting_events > 0")  # <NA> on test rows: not selected
    assert len(explorer.selected) and (explorer.selected["split"] == "train").all()


def test_recorder_in_a_users_own_loop_equals_the_trainers_record(digits):
    data = digits.subset(np.arange(200))
    recorder = DynamicsRecorder(data)
    model = make_model("mlp", 10, (8, 8), seed=3)
    recorded = train_model(model, data, epochs=2, seed=3, record_logits=True, on_epoch_end=recorder, progress=False)
    assert recorder.n_epochs == 2
    np.testing.assert_array_equal(recorder.logits_per_epoch, recorded.logits_per_epoch)
    assert model.training is False
    manual = DynamicsRecorder()
    manual.record(recorded.logits_per_epoch[0])
    with pytest.raises(ValueError, match="shape"):
        manual.record(np.zeros((5, 10), dtype=np.float32))
    with pytest.raises(ValueError, match="no data"):
        manual.record_model(model)
    with pytest.raises(ValueError, match="nothing recorded"):
        DynamicsRecorder(data).logits_per_epoch  # noqa: B018


def test_bad_inputs_name_the_argument(run, digits):
    train, test, result, _ = run
    with pytest.raises(ValueError, match="logits_per_epoch"):
        dw.analyze(result.model, train, test, logits_per_epoch=result.logits_per_epoch[:, :10], progress=False)
    with pytest.raises(ValueError, match=r"share .* ids"):
        dw.analyze(result.model, train, train.subset(np.arange(5)), probes=None, progress=False)
    with pytest.raises(ValueError, match="unknown probe"):
        dw.analyze(result.model, train, test, features="nope", progress=False)
    with pytest.raises(ValueError, match="support_mask"):
        SupportRows.from_mask(np.zeros(4, dtype=bool), 4)
    with pytest.raises(ValueError, match="support_mask"):
        SupportRows.from_mask(np.ones(3, dtype=bool), 4)
