"""The run directory: ``extract_to`` then ``analyze_from`` give what ``analyze`` gives (every column, the tables,
the embeddings), on digits and on a Fashion-MNIST subset through a torch dataset; an interrupted run resumes
without recomputing finished parts and ends identical; corrupt, incomplete and foreign directories are refused
with the part or field named."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

import difficulty_widget as dw
import difficulty_widget.extract as extract_module
from difficulty_widget.data.torch_dataset import ImageArrayDataset
from difficulty_widget.extract import extract, train_small_model
from difficulty_widget.pipeline import RunDirectory, RunDirectoryError
from difficulty_widget.pipeline.demo import demo_data


def assert_same_analysis(got: dw.Analysis, want: dw.Analysis) -> None:
    pd.testing.assert_frame_equal(got.df, want.df, check_exact=True)
    assert sorted(got.tables) == sorted(want.tables)
    for name in want.tables:
        pd.testing.assert_frame_equal(got.tables[name], want.tables[name], check_exact=True)
    assert got.class_names == want.class_names
    assert sorted(got.embeddings) == sorted(want.embeddings)
    for name in want.embeddings:
        np.testing.assert_array_equal(np.asarray(got.embeddings[name]), want.embeddings[name])
    assert json.dumps(got.provenance, default=str) == json.dumps(want.provenance, default=str)


@pytest.fixture(scope="module")
def digits_run():
    data = demo_data("digits")
    train = data.where_split("train").subset(np.arange(300))
    test = data.where_split("test").subset(np.arange(100))
    model = train_small_model(train, "cnn", epochs=2, seed=0, progress=False).model
    return train, test, model, dw.analyze(model, train, test, progress=False)


def test_analyze_from_equals_analyze_on_digits(digits_run, tmp_path):
    train, test, model, want = digits_run
    run = dw.extract_to(tmp_path / "run", model, train, test, part_rows=64, progress=False)
    assert run.complete and len(run.parts()) == 5 + 2  # 300 rows in 5 parts, 100 in 2: no part spans both
    got = dw.analyze_from(tmp_path / "run", progress=False)
    assert_same_analysis(got, want)
    # the probes on disk are the embeddings of one extract() pass over the same rows
    ex = extract(model, train, probes=list(run.manifest["probes"]), max_probe_dim=4096, progress=False)
    for name in run.manifest["probes"]:
        np.testing.assert_array_equal(run.probe(name)[:300], ex.probes[name])


def test_analyze_from_equals_analyze_on_fashion_mnist_through_a_torch_dataset(fashion_dir, tmp_path):
    from difficulty_widget.data import load_fashion_mnist

    train = load_fashion_mnist("train", root=fashion_dir).subset(np.arange(1200))
    test = load_fashion_mnist("test", root=fashion_dir).subset(np.arange(300))
    model = train_small_model(train, "cnn", epochs=1, seed=0, progress=False).model
    train_ds, test_ds = (ImageArrayDataset(d.images, d.labels) for d in (train, test))
    want = dw.analyze(model, train_ds, test_ds, progress=False)
    dw.extract_to(tmp_path / "run", model, train_ds, test_ds, part_rows=500, progress=False)
    assert_same_analysis(dw.analyze_from(tmp_path / "run", progress=False), want)


def test_an_interrupted_run_resumes_without_recomputing_finished_parts(digits_run, tmp_path, monkeypatch):
    train, test, model, want = digits_run
    calls = []
    real = extract_module.extract

    def dies_on_the_fourth_part(*args, **kwargs):
        calls.append(len(args[1]) if not isinstance(args[1], tuple) else len(args[1][0]))
        if len(calls) == 4:
            raise KeyboardInterrupt("simulated kill")
        return real(*args, **kwargs)

    monkeypatch.setattr(extract_module, "extract", dies_on_the_fourth_part)
    with pytest.raises(KeyboardInterrupt):
        dw.extract_to(tmp_path / "run", model, train, test, part_rows=64, progress=False)
    assert sum(part.done for part in RunDirectory(tmp_path / "run").parts()) == 3
    with pytest.raises(RunDirectoryError, match="incomplete: 4 of 7 parts are not done"):
        dw.analyze_from(tmp_path / "run", progress=False)
    calls.clear()
    monkeypatch.setattr(extract_module, "extract", lambda *a, **k: calls.append(1) or real(*a, **k))
    dw.extract_to(tmp_path / "run", model, train, test, part_rows=64, progress=False)
    assert len(calls) == 4  # only the parts not done
    assert_same_analysis(dw.analyze_from(tmp_path / "run", progress=False), want)
    calls.clear()
    dw.extract_to(tmp_path / "run", model, train, test, part_rows=64, progress=False)
    assert calls == []  # a finished run is never recomputed


def test_corrupt_parts_are_named(digits_run, tmp_path):
    train, test, model, _ = digits_run
    run = dw.extract_to(tmp_path / "run", model, train, test, part_rows=64, progress=False)
    name = next(iter(run.manifest["probes"]))
    path = tmp_path / "run" / "probes" / f"{name}.npy"
    array = np.load(path, mmap_mode="r+")
    array[70, 0] += 1.0  # a row of part-00001
    array.flush()
    del array
    with pytest.raises(RunDirectoryError, match=rf"{name}\.npy: rows 64:128 \(part-00001\) do not match"):
        dw.analyze_from(tmp_path / "run", progress=False)
    (tmp_path / "run" / "parts" / "part-00003.parquet").write_bytes(b"not parquet")
    with pytest.raises(RunDirectoryError, match=r"part-00003\.parquet"):
        run.rows()


def test_a_directory_of_another_run_is_refused(digits_run, tmp_path):
    train, test, model, _ = digits_run
    dw.extract_to(tmp_path / "run", model, train, test, part_rows=64, progress=False)
    other = train_small_model(train, "cnn", epochs=1, seed=1, progress=False).model
    with pytest.raises(RunDirectoryError, match="belongs to another run \\(model_fingerprint differ"):
        dw.extract_to(tmp_path / "run", other, train, test, part_rows=64, progress=False)
    with pytest.raises(RunDirectoryError, match="part_rows"):
        dw.extract_to(tmp_path / "run", model, train, test, part_rows=100, progress=False)
    with pytest.raises(RunDirectoryError, match="labels_fingerprint"):
        dw.extract_to(tmp_path / "run", model, test, train, part_rows=64, progress=False)
    with pytest.raises(RunDirectoryError, match="not a run directory"):
        dw.analyze_from(tmp_path / "nothing", progress=False)


def test_support_query_selects_the_training_rows(digits_run, tmp_path):
    from difficulty_widget.pipeline.scoring import analysis_from_extraction

    train, test, model, want = digits_run
    dw.extract_to(tmp_path / "run", model, train, test, part_rows=128, progress=False)
    query = "split == 'train' and label != 3"
    got = dw.analyze_from(tmp_path / "run", support=query, progress=False)
    assert got.provenance["training_rows"] == query
    mask = (want.df["split"] == "train").to_numpy() & (want.df["label"] != 3).to_numpy()
    probes = list(want.provenance["depth_probes"])
    ex = extract(model, dw.pipeline.scoring._combine(train, test), probes=probes, max_probe_dim=4096, progress=False)
    direct = analysis_from_extraction(
        ex, depth_probes=probes, features_probe=want.provenance["features_probe"], support_mask=mask,
        ids=want.df["id"].to_numpy(), split=want.df["split"].to_numpy(dtype=object), progress=False,
    )  # fmt: skip
    columns = ["knn_agreement", "local_density", "prediction_depth"]
    pd.testing.assert_frame_equal(got.df[columns], direct.df[columns])
    assert not got.df["knn_agreement"].equals(want.df["knn_agreement"])  # the support changed the scores
    with pytest.raises(ValueError, match="selects 0 rows"):
        dw.analyze_from(tmp_path / "run", support="label > 99", progress=False)


def test_bad_arguments_fail_before_any_pass(digits_run, tmp_path):
    train, test, model, _ = digits_run
    with pytest.raises(ValueError, match="part_rows must be a positive integer"):
        dw.extract_to(tmp_path / "run", model, train, test, part_rows=0, progress=False)
    with pytest.raises(ValueError, match=r"unknown probe names \['nope'\]"):
        dw.extract_to(tmp_path / "run", model, train, test, probes=["nope"], progress=False)
    assert not (tmp_path / "run" / "manifest.json").exists()
    torch.manual_seed(0)


def test_a_memory_budget_streams_the_support_sets_with_the_same_result(digits_run, tmp_path, monkeypatch):
    from difficulty_widget.measures import knn_streamed

    train, test, model, want = digits_run
    dw.extract_to(tmp_path / "run", model, train, test, part_rows=128, progress=False)
    blocks = []
    plan = knn_streamed.plan_stream

    def counted(*args, **kwargs):
        blocks.append(plan(*args, **kwargs).n_blocks)
        return blocks[-1] and plan(*args, **kwargs)

    monkeypatch.setattr(knn_streamed, "plan_stream", counted)
    got = dw.analyze_from(tmp_path / "run", memory_budget="400KiB", progress=False)
    assert_same_analysis(got, want)
    assert blocks and max(blocks) > 1  # the support sets were read in several blocks
