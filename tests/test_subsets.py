"""Saved subsets: set operations against Python sets, round trip through a saved Analysis, export, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from difficulty_widget import Analysis
from difficulty_widget.subsets import Subsets


@pytest.fixture()
def analysis() -> Analysis:
    rng = np.random.default_rng(0)
    n = 100
    frame = pd.DataFrame(
        {
            "id": np.arange(1000, 1000 + n),
            "label": rng.integers(0, 3, n),
            "split": np.where(np.arange(n) < 70, "train", "test"),
            "loss": rng.exponential(size=n),
        }
    )
    return Analysis(frame, ["cat", "dog", "bird"], provenance={"model": "m"})


def random_ids(rng: np.random.Generator, size: int) -> np.ndarray:
    return rng.choice(np.arange(1000, 1100), size=size)  # with repeats


def test_save_sorts_deduplicates_and_freezes():
    subsets = Subsets()
    stored = subsets.save("a", [5, 3, 5, 1])
    assert stored.dtype == np.int64 and stored.tolist() == [1, 3, 5]
    assert subsets["a"].tolist() == [1, 3, 5] and not subsets["a"].flags.writeable
    subsets.save("empty", [])
    subsets.save("from frame", pd.DataFrame({"id": [9, 8], "x": [0, 1]}))
    assert list(subsets) == ["a", "empty", "from frame"] and len(subsets) == 3
    assert "a" in subsets and "b" not in subsets and subsets.get("b") is None
    assert subsets["empty"].dtype == np.int64 and subsets["from frame"].tolist() == [8, 9]
    assert "'a': 3 ids" in repr(subsets)
    subsets.remove("a")
    assert list(subsets) == ["empty", "from frame"]


def test_set_operations_equal_python_sets():
    rng = np.random.default_rng(1)
    subsets = Subsets()
    sets = {}
    for name in ("a", "b", "c"):
        ids = random_ids(rng, 60)
        subsets.save(name, ids)
        sets[name] = set(ids.tolist())
    assert subsets.union("a", "b", "c").tolist() == sorted(sets["a"] | sets["b"] | sets["c"])
    assert subsets.intersection("a", "b", "c").tolist() == sorted(sets["a"] & sets["b"] & sets["c"])
    assert subsets.difference("a", "b").tolist() == sorted(sets["a"] - sets["b"])
    assert subsets.union("a").tolist() == sorted(sets["a"])
    assert subsets.intersection("b").tolist() == sorted(sets["b"])
    assert len(sets["a"] & sets["b"] & sets["c"]) > 0 and len(sets["a"] - sets["b"]) > 0  # the checks have content

    stored = subsets.intersection("a", "c", as_="a and c")
    assert subsets["a and c"].tolist() == stored.tolist() == sorted(sets["a"] & sets["c"])
    subsets.difference("c", "a", as_="c only")
    assert subsets["c only"].tolist() == sorted(sets["c"] - sets["a"])
    assert list(subsets) == ["a", "b", "c", "a and c", "c only"]


def test_collisions_and_unknown_names():
    subsets = Subsets({"a": [1, 2]})
    with pytest.raises(ValueError, match="a subset named 'a' already exists; pass overwrite=True"):
        subsets.save("a", [3])
    with pytest.raises(ValueError, match="already exists"):
        subsets.union("a", as_="a")
    assert subsets["a"].tolist() == [1, 2]
    subsets.save("a", [3], overwrite=True)
    assert subsets["a"].tolist() == [3]
    with pytest.raises(KeyError, match=r"no subset named 'z'; saved subsets: \['a'\]"):
        subsets["z"]
    with pytest.raises(ValueError, match=r"no subset named \['z'\]; saved subsets: \['a'\]"):
        subsets.union("a", "z")
    with pytest.raises(ValueError, match="no subset named"):
        subsets.remove("z")
    with pytest.raises(ValueError, match="at least one subset name"):
        subsets.intersection()


def test_bad_ids():
    subsets = Subsets(valid_ids=np.arange(10, 20))
    with pytest.raises(ValueError, match=r"ids for 'x' must be among the valid ids; 2 are not: \[3, 25\]"):
        subsets.save("x", [3, 12, 25])
    assert "x" not in subsets
    with pytest.raises(ValueError, match="must be integers"):
        subsets.save("x", [1.5])
    with pytest.raises(ValueError, match="1-D"):
        subsets.save("x", [[1, 2]])
    with pytest.raises(ValueError, match="non-negative"):
        Subsets().save("x", [-1, 2])
    with pytest.raises(ValueError, match=r"must be among the valid ids; 1 are not: \[5\]"):
        Subsets(valid_ids=5).save("x", [0, 4, 5])
    with pytest.raises(ValueError, match="non-empty string"):
        Subsets().save("", [1])


def test_round_trip_through_a_saved_analysis(analysis, tmp_path):
    rng = np.random.default_rng(2)
    subsets = Subsets(valid_ids=analysis.df["id"])
    subsets.save("hard", random_ids(rng, 30))
    subsets.save("nothing", [])
    subsets.save("also hard", random_ids(rng, 10))
    assert subsets.write_to(analysis) is analysis
    table = analysis.tables["subsets"]
    assert list(table.columns) == ["subset", "id"] and len(table) == len(subsets["hard"]) + len(subsets["also hard"])

    loaded = Analysis.load(analysis.save(tmp_path / "a.parquet"))
    back = Subsets.from_analysis(loaded)
    assert back == subsets and list(back) == ["hard", "nothing", "also hard"]
    with pytest.raises(ValueError, match="among the valid ids"):
        back.save("stranger", [5])
    assert len(Subsets.from_analysis(Analysis.load(tmp_path / "a.parquet").add_table("other", table))) == 3
    fresh = Analysis(analysis.df[["id", "label"]], analysis.class_names)
    assert len(Subsets.from_analysis(fresh)) == 0


def test_write_to_rejects_ids_not_in_the_analysis(analysis):
    subsets = Subsets({"x": [1000, 5]})
    with pytest.raises(ValueError, match=r"1 saved id\(s\) are not in the analysis: \[5\]"):
        subsets.write_to(analysis)
    assert "subsets" not in analysis.tables


def test_to_frame_and_csv(analysis, tmp_path):
    subsets = Subsets({"b": [1003, 1001], "a": [1001]})
    frame = subsets.to_frame()
    assert frame["subset"].tolist() == ["b", "b", "a"] and frame["id"].tolist() == [1001, 1003, 1001]
    joined = subsets.to_frame(analysis)
    rows = analysis.df.set_index("id").loc[[1001, 1003, 1001]]
    assert joined["loss"].tolist() == rows["loss"].tolist()
    assert joined["label_name"].tolist() == rows["label_name"].tolist()
    with pytest.raises(ValueError, match=r"not in df\['id'\]: \[7\]"):
        Subsets({"x": [7]}).to_frame(analysis.df)

    path = subsets.to_csv(tmp_path / "subsets.csv")
    read = pd.read_csv(path)
    assert read.columns.tolist() == ["subset", "id"]
    assert read["subset"].tolist() == ["b", "b", "a"] and read["id"].tolist() == [1001, 1003, 1001]
    assert pd.read_csv(subsets.to_csv(tmp_path / "rows.csv", df=analysis))["split"].tolist() == ["train"] * 3
