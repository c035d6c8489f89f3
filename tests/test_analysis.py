"""Analysis: construction from a DataFrame, exact Parquet round trip, clear errors on bad or foreign files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import difficulty_widget as dw
from difficulty_widget import Analysis
from difficulty_widget.measures import model_scores


@pytest.fixture()
def analysis() -> Analysis:
    rng = np.random.default_rng(0)
    n = 200
    labels = rng.integers(0, 3, n)
    frame = pd.DataFrame(
        {"id": np.arange(1000, 1000 + n), "label": labels, "split": np.where(np.arange(n) < 150, "train", "test")}
    )
    frame = pd.concat([frame, model_scores(rng.normal(size=(n, 3)), labels)], axis=1)
    frame["depth"] = rng.integers(0, 6, n).astype(np.int16)
    frame["note"] = [f"<b>{i}</b> ü" for i in range(n)]
    frame["maybe"] = np.where(np.arange(n) % 7 == 0, np.nan, rng.normal(size=n))
    return Analysis(frame, ["cat", "dog", "bird"], wnids=["n1", "n2", "n3"], provenance={"model": "m", "seed": 3})


def test_table_layout(analysis):
    df = analysis.df
    assert list(df.columns[:4]) == ["id", "label", "label_name", "split"]
    assert df["label_name"].tolist() == [analysis.class_names[y] for y in df["label"]]
    assert analysis.score_columns == ["correct", "confidence", "true_prob", "margin", "entropy", "loss"]
    assert analysis.provenance["library_version"] == dw.__version__
    assert "n=200" in repr(analysis)


def test_save_load_round_trip_is_exact(analysis, tmp_path):
    path = analysis.save(tmp_path / "sub" / "a.parquet")
    loaded = Analysis.load(path)
    pd.testing.assert_frame_equal(loaded.df, analysis.df, check_exact=True)
    assert [str(t) for t in loaded.df.dtypes] == [str(t) for t in analysis.df.dtypes]
    assert loaded.class_names == analysis.class_names and loaded.wnids == analysis.wnids
    assert loaded.provenance == analysis.provenance
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["a.parquet"]  # no temporary file left


def test_save_is_atomic_when_writing_fails(analysis, tmp_path, monkeypatch):
    import pyarrow.parquet as pq

    path = analysis.save(tmp_path / "a.parquet")
    before = path.read_bytes()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(pq, "write_table", broken)
    with pytest.raises(OSError, match="disk full"):
        analysis.save(path)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["a.parquet"]


def test_corrupt_and_foreign_files_raise_clear_errors(analysis, tmp_path):
    (tmp_path / "junk.parquet").write_bytes(b"not parquet at all" * 10)
    with pytest.raises(ValueError, match="not a readable Parquet file"):
        Analysis.load(tmp_path / "junk.parquet")
    good = analysis.save(tmp_path / "good.parquet").read_bytes()
    (tmp_path / "cut.parquet").write_bytes(good[: len(good) // 2])
    with pytest.raises(ValueError, match="not a readable Parquet file"):
        Analysis.load(tmp_path / "cut.parquet")
    pd.DataFrame({"a": [1, 2]}).to_parquet(tmp_path / "foreign.parquet")
    with pytest.raises(ValueError, match="not an Analysis saved by difficulty-widget"):
        Analysis.load(tmp_path / "foreign.parquet")
    with pytest.raises(FileNotFoundError):
        Analysis.load(tmp_path / "missing.parquet")


def test_from_dataframe_with_own_scores():
    frame = pd.DataFrame({
        "id": [5, 6, 7, 8], "label": [0, 1, 1, 2], "prediction": [0, 2, 1, 2],
        "label_name": ["ant", "bee", "bee", "cow"], "my_score": [0.1, 0.9, 0.3, 0.2],
    })  # fmt: skip
    analysis = Analysis.from_dataframe(frame)
    assert analysis.class_names == ["ant", "bee", "cow"]
    assert analysis.df["correct"].tolist() == [True, False, True, True]
    assert analysis.df["split"].tolist() == ["all"] * 4
    assert Analysis.from_dataframe(frame[["id", "label"]]).class_names == ["0", "1", "2"]


@pytest.mark.parametrize(
    ("frame", "kwargs", "message"),
    [
        (pd.DataFrame({"label": [0, 1]}), {}, "must have a column 'id'"),
        (pd.DataFrame({"id": [0, 0], "label": [0, 1]}), {}, "must be unique"),
        (pd.DataFrame({"id": [0, 1], "label": [0, 2]}), {"class_names": ["a", "b"]}, r"lie in \[0, 2\)"),
        (pd.DataFrame({"id": [0, 1], "label": [0.0, 1.0]}), {}, "integer class indices"),
        (pd.DataFrame({"id": [0, 1], "label": [0, 1]}), {"class_names": ["a", "a"]}, "unique"),
        (
            pd.DataFrame({"id": [0, 1], "label": [0, 1], "prediction": [0, 5]}),
            {"class_names": ["a", "b"]},
            "prediction",
        ),
        (pd.DataFrame({"id": [], "label": []}, dtype=int), {"class_names": ["a", "b"]}, "empty"),
    ],
)
def test_bad_tables(frame, kwargs, message):
    with pytest.raises(ValueError, match=message):
        Analysis.from_dataframe(frame, **kwargs)


def test_add_columns_by_order_and_by_id(analysis):
    analysis.add_columns({"extra": np.arange(len(analysis))})
    shuffled = pd.DataFrame({"id": analysis.df["id"][::-1].to_numpy(), "by_id": np.arange(len(analysis))[::-1]})
    analysis.add_columns(shuffled)
    assert (analysis.df["by_id"] == np.arange(len(analysis))).all()
    with pytest.raises(ValueError, match="already exist"):
        analysis.add_columns({"extra": np.zeros(len(analysis))})
    analysis.add_columns({"extra": np.zeros(len(analysis))}, overwrite=True)
    with pytest.raises(ValueError, match="one per instance"):
        analysis.add_columns({"short": [1, 2]})
    with pytest.raises(ValueError, match="ids not in the analysis"):
        analysis.add_columns(pd.DataFrame({"id": [-5], "x": [1]}))
    with pytest.raises(ValueError, match="lacks 199"):
        analysis.add_columns(pd.DataFrame({"id": [1000], "x": [1]}))
    with pytest.raises(ValueError, match="analysis's own"):
        analysis.add_columns({"label": np.zeros(len(analysis), int)}, overwrite=True)


def test_hardest_uses_the_direction_of_each_measure(analysis):
    df = analysis.df
    by_loss = analysis.hardest("loss", n=5)
    assert by_loss["loss"].tolist() == sorted(df["loss"], reverse=True)[:5]
    by_margin = analysis.hardest("margin", n=5, split="test")
    assert by_margin["margin"].tolist() == sorted(df.loc[df["split"] == "test", "margin"])[:5]
    per_class = analysis.per_class_accuracy()
    for c in range(3):
        assert per_class["accuracy"][c] == pytest.approx(df.loc[df["label"] == c, "correct"].mean())


def test_prediction_name_follows_the_predictions(tmp_path):
    frame = pd.DataFrame({"id": [5, 6, 7], "label": [0, 1, 2], "prediction": [2, 1, 0], "loss": [0.1, 0.2, 0.3]})
    analysis = Analysis.from_dataframe(frame, class_names=["cat", "dog", "owl"])
    assert list(analysis.df.columns)[4:] == ["prediction", "prediction_name", "loss", "correct"]
    assert analysis.df["prediction_name"].tolist() == ["owl", "dog", "cat"]
    assert list(analysis.df["prediction_name"].cat.categories) == ["cat", "dog", "owl"]
    analysis.add_columns({"prediction": [1, 1, 1]}, overwrite=True)
    assert analysis.df["prediction_name"].tolist() == ["dog", "dog", "dog"]
    with pytest.raises(ValueError, match="prediction_name"):
        analysis.add_columns({"prediction_name": ["a", "b", "c"]}, overwrite=True)
    loaded = Analysis.load(analysis.save(tmp_path / "a.parquet"))
    pd.testing.assert_frame_equal(loaded.df, analysis.df)
    assert "prediction_name" not in Analysis.from_dataframe(frame.drop(columns=["prediction"])).df.columns
