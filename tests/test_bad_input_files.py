"""Analysis.save / Analysis.load with careless and hostile inputs (issue 18).

Every column, table and provenance type that ``from_dataframe`` accepts loads back exactly (names, dtypes, values and
their Python types); the types a Parquet file cannot keep are refused when the Analysis is built, with the column
named. Files: page checksums plus a whole-content sha256, so a flipped byte either raises a clear error naming the
file or loads identical data; atomic replace through symbolic links, ``~`` expanded, the umask respected, no temporary
file left on any exit path; damaged metadata reported with the field.
"""

from __future__ import annotations

import io
import json
import os
import stat
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from difficulty_widget import Analysis
from difficulty_widget.analysis import MAX_INFERRED_CLASSES, MAX_NESTING, METADATA_KEY


def base(columns: dict | None = None, **named) -> pd.DataFrame:
    return pd.DataFrame({"id": [10, 11, 12], "label": [0, 1, 0], **(columns or {}), **named})


def assert_same(loaded: Analysis, original: Analysis) -> None:
    """Equal in every way a user can see: values, dtypes, column names and their types, the Python types of cells,
    class metadata, provenance (tuples stay tuples, int keys stay ints) and tables (index included)."""
    assert_same_frame(loaded.df, original.df)
    assert loaded.class_names == original.class_names and loaded.wnids == original.wnids
    assert repr(loaded.provenance) == repr(original.provenance)
    assert sorted(loaded.tables) == sorted(original.tables)
    for name, table in original.tables.items():
        assert_same_frame(loaded.tables[name], table)


def assert_same_frame(got: pd.DataFrame, want: pd.DataFrame) -> None:
    assert [(type(c), c) for c in got.columns] == [(type(c), c) for c in want.columns]
    assert type(got.index) is type(want.index) and list(got.index.names) == list(want.index.names)
    assert list(got.dtypes.astype(str)) == list(want.dtypes.astype(str))
    assert list(got.dtypes) == list(want.dtypes)  # "string" is the name of both of pandas' string storages
    pd.testing.assert_frame_equal(
        _cells_as_text(got), _cells_as_text(want), check_exact=True, check_column_type=True, check_index_type=True
    )


def _cells_as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Object columns (lists, bytes) as the repr of each cell: [1] == [1.0] and [nan] != [nan] in Python."""
    out = frame.copy()
    for i in range(out.shape[1]):
        if out.dtypes.iloc[i].kind == "O":
            out.isetitem(i, pd.Series([repr(v) for v in out.iloc[:, i]], index=out.index, dtype=object))
    return out


def round_trip(analysis: Analysis, tmp_path: Path) -> Analysis:
    return Analysis.load(analysis.save(tmp_path / "a.parquet"))


# ---------------------------------------------------------------------------------------------- exact round trips
KEPT_COLUMNS = {
    "integer column name": {7: [1.5, 2.5, -0.0]},
    "float16": {"h": np.array([1, 2, 3], dtype=np.float16)},
    "uint64 extremes": {"u": np.array([2**64 - 1, 0, 1], dtype=np.uint64)},
    "nan, inf, -0.0": {"f": [np.nan, np.inf, -0.0]},
    "bool": {"b": [True, False, True]},
    "list of ints": {"l": [[1, 2], [], [3]]},
    "list of floats": {"l": [[1.5], [2.0, np.nan], []]},
    "list of strings": {"l": [["a"], ["b", "ü"], []]},
    "nested lists": {"l": [[[1], [2, 3]], [], [[4]]]},
    "list or missing": {"l": [[1], None, [2]]},
    "bytes": {"y": [b"x", b"", None]},
    "object strings with None": {"s": pd.Series(["a", None, "c"], dtype=object)},
    "nullable Int64": {"i": pd.array([1, None, 3], dtype="Int64")},
    "nullable boolean": {"i": pd.array([True, None, False], dtype="boolean")},
    "nullable Float64": {"i": pd.array([1.5, None, 3.0], dtype="Float64")},
    "string dtype": {"s": pd.array(["a", None, "c"], dtype="string")},
    "string dtype stored by Python": {"s": pd.array(["a", None, "ü"], dtype="string[python]")},
    "str dtype stored by Python": {"s": pd.array(["a", None, ""], dtype=pd.StringDtype("python", na_value=np.nan))},
    "ordered categorical": {"c": pd.Categorical(["b", "a", "b"], categories=["b", "a", "z"], ordered=True)},
    "categorical of ints": {"c": pd.Categorical([3, 1, 3])},
    "datetime with time zone": {"t": pd.date_range("2020-01-01", periods=3, tz="Europe/Berlin")},
    "datetime ns with NaT": {"t": np.array(["2020-01-01", "NaT", "2021-06-01"], dtype="datetime64[ns]")},
    "timedelta": {"t": pd.to_timedelta([1, 2, 3], unit="s")},
    "html and emoji text": {"s": ["<b>x</b>", "🙂", "a\x00b"]},
}


@pytest.mark.parametrize("columns", list(KEPT_COLUMNS.values()), ids=list(KEPT_COLUMNS))
def test_every_accepted_column_type_loads_back_exactly(columns, tmp_path):
    analysis = Analysis.from_dataframe(base(columns))
    assert_same(round_trip(analysis, tmp_path), analysis)


def test_object_strings_are_kept_as_they_will_load():
    analysis = Analysis.from_dataframe(base(s=pd.Series(["a", np.nan, None], dtype=object)))
    assert str(analysis.df["s"].dtype) == "str"  # what a Parquet string column loads as


def test_provenance_keeps_tuples_int_keys_and_nesting(tmp_path):
    provenance = {
        "shape": (3, 28, 28),
        "by_epoch": {1: 0.5, 2: (0.25, None)},
        "flags": {True: "yes", None: [1, "x", {"k": ()}]},
        "tagged": {"__dw__": "tuple", "items": [1]},  # looks like the tagging itself: still kept as given
        "numpy": np.int64(3),
        "text": "lone \ud800 surrogate is kept in JSON",
        "floats": [1e308, -0.0, 5e-324],
    }
    analysis = Analysis.from_dataframe(base(), provenance=provenance)
    assert analysis.provenance["numpy"] == 3 and type(analysis.provenance["numpy"]) is int
    loaded = round_trip(analysis, tmp_path)
    assert_same(loaded, analysis)
    assert loaded.provenance["shape"] == (3, 28, 28) and list(loaded.provenance["by_epoch"]) == [1, 2]


KEPT_TABLES = {
    "RangeIndex": pd.DataFrame({"x": [1.0, 2.0]}),
    "RangeIndex with a step": pd.DataFrame({"x": [1.0, 2.0]}, index=pd.RangeIndex(10, 14, 2)),
    "string index": pd.DataFrame({"kappa": [0.5, 0.2]}, index=pd.Index(["m1", "m2"], name="model")),
    "integer column names": pd.DataFrame({0: [1, 2], 1: [3, 4]}),
    "list cells": pd.DataFrame({"ids": [[1, 2], [3]]}),
    "categorical": pd.DataFrame({"subset": pd.Categorical(["a", "b"]), "id": [1, 2]}),
    "named columns": pd.DataFrame([[1, 2]], columns=pd.Index(["a", "b"], name="probe")),
    "empty": pd.DataFrame({"x": pd.Series([], dtype=float)}),
    "datetime index with a freq": pd.DataFrame({"x": [1, 2]}, index=pd.date_range("2020", periods=2, tz="UTC")),
    "timedelta index with a freq": pd.DataFrame({"x": [1, 2]}, index=pd.timedelta_range("1s", periods=2)),
    "string column stored by Python": pd.DataFrame({"s": pd.array(["a", None], dtype="string[python]")}),
}


@pytest.mark.parametrize("table", list(KEPT_TABLES.values()), ids=list(KEPT_TABLES))
def test_every_accepted_table_loads_back_exactly(table, tmp_path):
    analysis = Analysis.from_dataframe(base())
    analysis.add_table("t", table)
    assert_same(round_trip(analysis, tmp_path), analysis)


# ---------------------------------------------------------------------------- refused when the Analysis is built
REFUSED = {
    "complex column": (base(z=np.array([1j, 2, 3])), {}, r"column 'z' is complex"),
    "mixed str and int": (base(m=pd.Series(["a", 1, "b"], dtype=object)), {}, r"column 'm' mixes values of types"),
    "mixed int and float": (base(m=pd.Series([1, 2.5, 3], dtype=object)), {}, r"column 'm' mixes"),
    "lists of ints and floats": (base(m=[[1, 2.5], [3], []]), {}, r"column 'm' cannot be saved exactly: row 0"),
    "lists with None": (base(m=[[1, None], [2], []]), {}, r"column 'm' cannot be saved exactly"),
    "tuples": (base(m=[(1, 2), (3,), ()]), {}, r"column 'm' cannot be saved exactly: row 0 holds \(1, 2\)"),
    "dicts": (base(m=[{"a": 1}, {"b": 2}, {}]), {}, r"column 'm' cannot be saved exactly"),
    "arrays in cells": (base(m=[np.array([1]), np.array([2]), np.array([3])]), {}, r"column 'm' cannot be saved"),
    "int beyond int64": (base(m=pd.Series([2**70, 1, 2], dtype=object)), {}, r"column 'm' \(object\) cannot be saved"),
    "lone surrogate in a column": (base(s=pd.Series(["a", "\ud800", "b"], dtype=object)), {}, r"column 's' row 1"),
    "sparse": (base(m=pd.arrays.SparseArray([0, 1.0, 0])), {}, r"column 'm' \(Sparse"),
    "float column name": (pd.DataFrame({"id": [1, 2], "label": [0, 1], 1.5: [1, 2]}), {}, r"column names must be"),
    "tuple column name": (pd.DataFrame({"id": [1, 2], "label": [0, 1], ("a", 1): [1, 2]}), {}, r"column names must"),
    "1 and '1'": (pd.DataFrame({"id": [1, 2], "label": [0, 1], 1: [1, 2], "1": [3, 4]}), {}, r"same once written"),
    "lone surrogate class name": (base(), {"class_names": ["a", "\udc80"]}, r"class_names\[1\] = .* lone surrogate"),
    "lone surrogate wnid": (base(), {"class_names": ["a", "b"], "wnids": ["n1", "\udc80"]}, r"wnids\[1\]"),
    "label 2**40": (pd.DataFrame({"id": [1, 2], "label": [0, 2**40]}), {}, r"df\['label'\] goes up to 1099511627776"),
    "prediction 2**40": (
        pd.DataFrame({"id": [1, 2], "label": [0, 1], "prediction": [0, 2**40]}),
        {},
        r"df\['prediction'\] goes up to",
    ),
    "provenance not a mapping": (base(), {"provenance": ["model", "m"]}, r"provenance must be a mapping"),
    "provenance with a set": (base(), {"provenance": {"s": {1, 2}}}, r"provenance\['s'\] is a set"),
    "provenance with an array": (base(), {"provenance": {"a": np.zeros(3)}}, r"provenance\['a'\] is a ndarray"),
    "class_names one string": (base(), {"class_names": "ab"}, r"class_names must be a sequence"),
}


@pytest.mark.parametrize(("frame", "kwargs", "message"), list(REFUSED.values()), ids=list(REFUSED))
def test_types_a_file_cannot_keep_are_refused_at_construction(frame, kwargs, message):
    with pytest.raises(ValueError, match=message):
        Analysis.from_dataframe(frame, **kwargs)


def test_inferred_classes_are_bounded_and_class_names_lift_the_bound():
    top = MAX_INFERRED_CLASSES  # one more class than may be inferred
    with pytest.raises(ValueError, match="pass class_names="):
        Analysis.from_dataframe(pd.DataFrame({"id": [1, 2], "label": [0, top]}))
    with pytest.raises(ValueError, match=r"lie in \[0, 3\)"):
        Analysis.from_dataframe(pd.DataFrame({"id": [1, 2], "label": [0, 2**40]}), class_names=["a", "b", "c"])


def test_deep_and_circular_provenance_are_refused_without_recursion_errors():
    deep: list = []
    for _ in range(5000):  # json.dumps would raise RecursionError here
        deep = [deep]
    with pytest.raises(ValueError, match=f"nested more than {MAX_NESTING} levels"):
        Analysis.from_dataframe(base(), provenance={"x": deep})
    circular: dict = {}
    circular["self"] = circular
    with pytest.raises(ValueError, match=r"provenance\['self'\].* contains itself"):
        Analysis.from_dataframe(base(), provenance=circular)


REFUSED_TABLES = {
    "complex": (pd.DataFrame({"z": [1j]}), r"table 't' column 'z' is complex"),
    "MultiIndex columns": (pd.DataFrame([[1, 2]], columns=pd.MultiIndex.from_tuples([("a", 1), ("a", 2)])), "Multi"),
    "tuple cells": (pd.DataFrame({"p": [(1, 2)]}), r"table 't' column 'p' cannot be saved exactly"),
    "mixed cells": (pd.DataFrame({"p": pd.Series([1, "a"], dtype=object)}), r"table 't' column 'p' mixes"),
    "float column name": (pd.DataFrame({0.5: [1]}), r"table 't' column names must be"),
    "mixed index": (pd.DataFrame({"x": [1, 2]}, index=pd.Index([1, "a"], dtype=object)), r"table 't'"),
}


@pytest.mark.parametrize(("table", "message"), list(REFUSED_TABLES.values()), ids=list(REFUSED_TABLES))
def test_tables_a_file_cannot_keep_are_refused_when_added(table, message):
    analysis = Analysis.from_dataframe(base())
    with pytest.raises(ValueError, match=message):
        analysis.add_table("t", table)
    assert "t" not in analysis.tables


def test_add_columns_refuses_what_save_could_not_keep():
    analysis = Analysis.from_dataframe(base())
    with pytest.raises(ValueError, match="column 'z' is complex"):
        analysis.add_columns({"z": np.array([1j, 2, 3])})
    assert "z" not in analysis.df.columns


# ---------------------------------------------------------------------------------------------------------- files
@pytest.fixture()
def analysis() -> Analysis:
    frame = base(score=[0.5, 1.5, -2.0], note=["a", "bb", None], lst=[[1], [], [2, 3]])
    frame[7] = [1, 2, 3]
    out = Analysis.from_dataframe(frame, provenance={"shape": (1, 2), 3: "three"})
    return out.add_table("k", pd.DataFrame({"x": [1.0, 2.0]}))


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_new_files_get_the_umask_and_replaced_files_keep_their_mode(analysis, tmp_path, umask):
    old = os.umask(umask)
    try:
        path = analysis.save(tmp_path / "a.parquet")
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask
        path.chmod(0o640)
        analysis.save(path)
        assert stat.S_IMODE(path.stat().st_mode) == 0o640
    finally:
        os.umask(old)


def test_saving_to_a_symlink_replaces_its_target_and_keeps_the_link(analysis, tmp_path):
    real = tmp_path / "data" / "real.parquet"
    real.parent.mkdir()
    real.write_bytes(b"old")
    link = tmp_path / "link.parquet"
    link.symlink_to(real)
    assert analysis.save(link) == link
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert_same(Analysis.load(real), analysis)
    assert sorted(p.name for p in real.parent.iterdir()) == ["real.parquet"]
    dangling = tmp_path / "dangling.parquet"
    dangling.symlink_to(tmp_path / "new" / "target.parquet")
    analysis.save(dangling)
    assert dangling.is_symlink() and (tmp_path / "new" / "target.parquet").is_file()


def test_tilde_is_expanded(analysis, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    path = analysis.save("~/sub/a.parquet")
    assert path == tmp_path / "sub" / "a.parquet" and path.is_file()
    assert not Path("~").exists()
    assert_same(Analysis.load("~/sub/a.parquet"), analysis)


@pytest.mark.parametrize("error", [KeyboardInterrupt, OSError("disk full"), MemoryError])
def test_an_interrupted_save_leaves_the_old_file_and_no_temporary_file(analysis, tmp_path, monkeypatch, error):
    import pyarrow.parquet as pq

    path = analysis.save(tmp_path / "a.parquet")
    before = path.read_bytes()
    write_table = pq.write_table

    def broken(table, where, **kwargs):
        if isinstance(where, io.BytesIO):  # the in-memory trial round trips of the checks before writing
            return write_table(table, where, **kwargs)
        where.write(b"partial")  # something is already in the temporary file
        raise error

    monkeypatch.setattr(pq, "write_table", broken)
    with pytest.raises(type(error) if isinstance(error, BaseException) else error):
        analysis.save(path)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["a.parquet"]


def test_a_failed_rename_leaves_no_temporary_file(analysis, tmp_path, monkeypatch):
    def broken(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(KeyboardInterrupt):
        analysis.save(tmp_path / "a.parquet")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("path", "error", "message"),
    [(12, TypeError, "path must be a str or os.PathLike, got int"), ("", ValueError, "non-empty")],
)
def test_bad_paths(analysis, path, error, message):
    with pytest.raises(error, match=message):
        analysis.save(path)
    with pytest.raises(error, match=message):
        Analysis.load(path)


def test_folders_are_refused_by_save_and_load(analysis, tmp_path):
    with pytest.raises(ValueError, match="is a folder; give a file name"):
        analysis.save(tmp_path)
    with pytest.raises(ValueError, match="is a folder, not a saved Analysis"):
        Analysis.load(tmp_path)


def test_files_are_written_with_page_checksums(analysis, tmp_path):
    import pyarrow.parquet as pq

    path = analysis.save(tmp_path / "a.parquet")
    good = path.read_bytes()
    chunk = pq.ParquetFile(path).metadata.row_group(0).column(4)  # the 'score' column: dictionary, then data page
    start = chunk.dictionary_page_offset if chunk.has_dictionary_page else chunk.data_page_offset
    for position in (start + chunk.total_compressed_size - 2, chunk.data_page_offset - 2):  # inside page bodies
        data = bytearray(good)
        data[position] ^= 0xFF
        (tmp_path / "bad.parquet").write_bytes(bytes(data))
        with pytest.raises(ValueError, match=r"bad\.parquet is damaged: a Parquet page checksum does not match"):
            Analysis.load(tmp_path / "bad.parquet")


def test_every_flipped_byte_raises_a_clear_error_or_loads_identical_data(analysis, tmp_path):
    """A dense sample of positions (the full scan, every byte, also passes but takes about 100 s)."""
    good = analysis.save(tmp_path / "good.parquet").read_bytes()
    rng = np.random.default_rng(0)
    positions = sorted(set(rng.choice(len(good), size=min(len(good), 160), replace=False).tolist()))
    positions += list(range(max(0, len(good) - 40), len(good)))  # the footer length and magic number
    outcomes = {"error": 0, "identical": 0}
    bad = tmp_path / "flipped.parquet"
    for position in positions:
        for mask in (0xFF, 0x01):
            data = bytearray(good)
            data[position] ^= mask
            bad.write_bytes(bytes(data))
            try:
                loaded = Analysis.load(bad)
            except ValueError as err:
                assert str(bad) in str(err), (position, str(err))
                outcomes["error"] += 1
                continue
            assert_same(loaded, analysis)
            outcomes["identical"] += 1
    assert outcomes["error"] > len(positions)  # most flips are caught, none is silently different


def test_changed_data_with_its_old_metadata_is_reported(analysis, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = analysis.save(tmp_path / "a.parquet")
    table = pq.read_table(path)
    scores = table.column("score").to_numpy().copy()
    scores[1] = 99.0
    tampered = table.set_column(table.schema.get_field_index("score"), "score", pa.array(scores))
    pq.write_table(tampered.replace_schema_metadata(table.schema.metadata), tmp_path / "t.parquet")
    with pytest.raises(ValueError, match=r"t\.parquet is damaged: its content does not match the sha256"):
        Analysis.load(tmp_path / "t.parquet")


def rewrite_metadata(path: Path, out: Path, change) -> Path:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    meta = json.loads(table.schema.metadata[METADATA_KEY])
    raw = change(meta)
    raw = raw if isinstance(raw, bytes) else json.dumps(meta).encode()
    pq.write_table(table.replace_schema_metadata({**table.schema.metadata, METADATA_KEY: raw}), out)
    return out


def _set(field, value):
    def change(meta):
        meta[field] = value

    return change


def _drop(field):
    return lambda meta: meta.pop(field)


DAMAGED_METADATA = {
    "not JSON": (lambda meta: b"{not json", "not valid JSON"),
    "not an object": (lambda meta: b"[1, 2]", "expected an object"),
    "format a string": (_set("format", "2"), "field 'format' must be a positive integer"),
    "format missing": (_drop("format"), "field 'format'"),
    "class_names an int": (_set("class_names", 3), "field 'class_names' must be a list of strings"),
    "class_names with a number": (_set("class_names", ["a", 1]), "field 'class_names'"),
    "wnids an int": (_set("wnids", 5), "field 'wnids' must be null or a list"),
    "provenance a list": (_set("provenance", [1]), "field 'provenance' must be an object"),
    "tables a list": (_set("tables", ["x"]), "field 'tables' must map names"),
    "tables not base64": (_set("tables", {"k": "%%%"}), "field 'tables'"),
    "digest missing": (_drop("digest"), "field 'digest' must be a sha256"),
    "digest short": (_set("digest", "abc"), "field 'digest'"),
    "columns missing": (_drop("columns"), "field 'columns'"),
    "columns wrong kind": (lambda meta: meta["columns"][0].update(kind="weird"), "field 'columns': entry 0"),
    "format 1 with a digest": (_set("format", 1), "field 'format' is 1 but"),
    "edited provenance": (_set("provenance", {"model": "edited"}), "does not match the sha256"),
    "newer format": (_set("format", 99), "newer difficulty-widget"),
    "string storage unknown": (
        lambda meta: next(c for c in meta["columns"] if c["name"] == "note")["string"].update(storage="weird"),
        r"field 'columns': entry \d+ is not a valid column description",
    ),
    "JSON nested too deeply": (
        lambda meta: (
            json.dumps(meta)
            .replace('"provenance": {', '"provenance": {"x": ' + "[" * 50_000 + "]" * 50_000 + ", ", 1)
            .encode()
        ),
        "its JSON is nested too deeply",
    ),
}


@pytest.mark.parametrize(("change", "message"), list(DAMAGED_METADATA.values()), ids=list(DAMAGED_METADATA))
def test_damaged_metadata_names_the_field(analysis, tmp_path, change, message):
    path = rewrite_metadata(analysis.save(tmp_path / "a.parquet"), tmp_path / "b.parquet", change)
    with pytest.raises(ValueError, match=message) as info:
        Analysis.load(path)
    assert str(path) in str(info.value)


def test_files_of_format_1_still_load(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    analysis = Analysis.from_dataframe(base(score=[0.1, 0.2, 0.3]), class_names=["a", "b"])
    table = pa.Table.from_pandas(analysis.df, preserve_index=False)
    meta = {"format": 1, "class_names": ["a", "b"], "wnids": None, "provenance": analysis.provenance, "tables": {}}
    table = table.replace_schema_metadata({**table.schema.metadata, METADATA_KEY: json.dumps(meta).encode()})
    pq.write_table(table, tmp_path / "old.parquet")
    pd.testing.assert_frame_equal(Analysis.load(tmp_path / "old.parquet").df, analysis.df)


# ---------------------------------------------------------------------------------------------- property test
NAMES = st.one_of(st.text(min_size=1, max_size=6).filter(lambda s: s.isprintable()), st.integers(-3, 50))
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False), st.text(max_size=5)
)
KEYS = st.one_of(st.text(max_size=4), st.integers(-5, 5), st.booleans(), st.none())
PROVENANCE_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(KEYS, inner, max_size=3),
    ),
    max_leaves=10,
)


def _column(kind: str, n: int) -> st.SearchStrategy:
    if kind == "float":
        return st.lists(st.floats(allow_nan=True, allow_infinity=True, width=64), min_size=n, max_size=n)
    if kind == "int":
        return st.lists(st.integers(-(2**63), 2**63 - 1), min_size=n, max_size=n).map(
            lambda v: np.array(v, dtype=np.int64)
        )
    if kind == "bool":
        return st.lists(st.booleans(), min_size=n, max_size=n)
    if kind == "text":
        return st.lists(st.one_of(st.none(), st.text(max_size=5).filter(_utf8)), min_size=n, max_size=n)
    if kind == "python string":
        return _column("text", n).map(lambda v: pd.array(v, dtype="string[python]"))
    if kind == "Int64":
        return st.lists(st.one_of(st.none(), st.integers(-100, 100)), min_size=n, max_size=n).map(
            lambda v: pd.array(v, dtype="Int64")
        )
    if kind == "category":
        return st.lists(st.sampled_from(["x", "y", "z"]), min_size=n, max_size=n).map(
            lambda v: pd.Categorical(v, categories=["z", "y", "x", "unused"])
        )
    return st.lists(st.lists(st.integers(-5, 5), max_size=3), min_size=n, max_size=n)  # list of ints


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@st.composite
def analyses(draw) -> Analysis:
    n = draw(st.integers(1, 6))
    n_classes = draw(st.integers(2, 4))
    frame = pd.DataFrame(
        {
            "id": draw(st.lists(st.integers(0, 10**12), min_size=n, max_size=n, unique=True)),
            "label": draw(st.lists(st.integers(0, n_classes - 1), min_size=n, max_size=n)),
        }
    )
    names = draw(st.lists(NAMES, max_size=4, unique_by=str))
    kinds = ["float", "int", "bool", "text", "python string", "Int64", "category", "lists"]
    for name in names:
        if str(name) in ("id", "label", "label_name", "split"):
            continue
        frame[name] = draw(_column(draw(st.sampled_from(kinds)), n))
    if draw(st.booleans()):
        frame["split"] = draw(st.lists(st.sampled_from(["train", "test"]), min_size=n, max_size=n))
    provenance = draw(st.dictionaries(KEYS, PROVENANCE_VALUES, max_size=4))
    out = Analysis.from_dataframe(frame, [f"c{i}" for i in range(n_classes)], provenance=provenance)
    for t in range(draw(st.integers(0, 2))):
        rows = draw(st.integers(0, 3))
        table = pd.DataFrame(
            {name: draw(_column("float", rows)) for name in draw(st.lists(NAMES, max_size=3, unique_by=str))}
        )
        if draw(st.booleans()) and rows:
            table.index = pd.Index([f"r{i}" for i in range(rows)], name=draw(st.sampled_from([None, "model"])))
        out.add_table(f"t{t}", table)
    return out


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(analysis=analyses())
def test_load_of_save_equals_the_analysis(analysis, tmp_path):
    assert_same(Analysis.load(analysis.save(tmp_path / "p.parquet")), analysis)


# ----------------------------------------------------------------------------------------- other arguments
@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda a: a.hardest("loss", n=-1), r"n must be a non-negative integer, got -1"),
        (lambda a: a.hardest("loss", n=2.5), r"n must be a non-negative integer, got 2\.5"),
        (lambda a: a.hardest("loss", split="nope"), r"split must be None or one of the analysis's splits \['all'\]"),
        (lambda a: a.per_class_accuracy(split="test"), r"split must be None or one of"),
        (lambda a: Analysis(a.df, a.class_names, tables=[("t", a.df)]), r"tables must be a mapping"),
        (lambda a: Analysis(a.df, a.class_names, wnids="n1n2"), r"wnids must be a sequence"),
        (lambda a: Analysis(a.df, None), r"class_names must be a sequence of names, got NoneType"),
        (lambda a: setattr(a, "embeddings", [np.zeros((3, 2))]), r"embeddings must be a mapping"),
    ],
)
def test_other_arguments_of_the_analysis(call, message):
    frame = base(prediction=[0, 1, 1])
    frame["loss"] = [0.1, 0.2, 0.3]
    with pytest.raises(ValueError, match=message):
        call(Analysis.from_dataframe(frame))


# ------------------------------------------------------------------------------------- what save writes, paths
def test_a_datetime_index_loses_its_freq_when_added():
    analysis = Analysis.from_dataframe(base())
    analysis.add_table("t", pd.DataFrame({"x": [1, 2]}, index=pd.date_range("2020", periods=2, tz="UTC", name="day")))
    index = analysis.tables["t"].index
    assert index.freq is None and index.name == "day"
    assert index.equals(pd.date_range("2020", periods=2, tz="UTC")) and str(index.tz) == "UTC"


def test_string_storage_is_kept_exactly(tmp_path):
    analysis = Analysis.from_dataframe(base(s=pd.array(["a", None, "ü"], dtype="string[python]")))
    loaded = round_trip(analysis, tmp_path)
    assert loaded.df["s"].dtype == pd.StringDtype("python") and loaded.df["s"].dtype.storage == "python"
    assert loaded.df["s"].isna().tolist() == [False, True, False]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda a: a.tables.__setitem__("t", pd.DataFrame({"p": [(1, 2)]})), r"table 't' column 'p' cannot be saved"),
        (lambda a: a.tables["k"].__setitem__("z", [1j, 2j]), r"table 'k' column 'z' is complex"),
        (lambda a: a.tables.__setitem__(5, pd.DataFrame({"x": [1]})), r"table name must be a non-empty string"),
        (lambda a: a.tables.__setitem__("n", [1, 2]), r"table 'n' must be a pandas DataFrame, got list"),
        (lambda a: a.df.__setitem__("p", [(1,), (2,), (3,)]), r"df column 'p' cannot be saved exactly: row 0"),
        (lambda a: a.df.__setitem__("z", np.array([1j, 2, 3])), r"df column 'z' is complex"),
        (lambda a: a.df.__setitem__("label", [0, 5, 0]), r"df\['label'\] must lie in \[0, 2\)"),
    ],
    ids=[
        "tuple cells in a new table",
        "complex column in a table",
        "table name an int",
        "table a list",
        "tuple cells in df",
        "complex column in df",
        "label out of range in df",
    ],
)
def test_what_was_changed_in_place_is_checked_before_save_writes(analysis, tmp_path, change, message):
    change(analysis)
    with pytest.raises(ValueError, match=message):
        analysis.save(tmp_path / "sub" / "a.parquet")
    assert list(tmp_path.iterdir()) == []  # nothing written, not even the folder


def test_save_keeps_what_it_wrote_so_the_analysis_equals_what_loads(analysis, tmp_path):
    analysis.df["words"] = pd.Series(["x", None, "z"], dtype=object)  # object strings: loaded as the str dtype
    analysis.tables["raw"] = pd.DataFrame({"w": ["a", "b"]}, index=pd.date_range("2020", periods=2))
    loaded = round_trip(analysis, tmp_path)
    assert str(analysis.df["words"].dtype) == "str" and analysis.tables["raw"].index.freq is None
    assert_same(loaded, analysis)


@pytest.mark.parametrize("method", ["save", "load"])
def test_a_path_with_a_nul_character_is_named(analysis, tmp_path, method):
    call = analysis.save if method == "save" else Analysis.load
    with pytest.raises(ValueError, match=r"path '.*a\\x00b\.parquet' contains a NUL character"):
        call(str(tmp_path / "a\x00b.parquet"))


def test_a_name_too_long_is_named(analysis, tmp_path):
    too_long = tmp_path / ("n" * 300 + ".parquet")
    with pytest.raises(ValueError, match=r"path '.*nnnn\.parquet' cannot be written: file name too long"):
        analysis.save(too_long)
    with pytest.raises(ValueError, match=r"path '.*nnnn\.parquet' cannot be read: file name too long"):
        Analysis.load(too_long)
    long = tmp_path / ("n" * 240 + ".parquet")  # a valid name, but too long for the temporary file's name
    with pytest.raises(ValueError, match=r"path '.*nnnn\.parquet' cannot be written: file name too long"):
        analysis.save(long)
    with pytest.raises(FileNotFoundError, match="no such file"):
        Analysis.load(long)
    assert list(tmp_path.iterdir()) == []


def test_a_symlink_loop_and_a_file_in_place_of_a_folder_are_named(analysis, tmp_path):
    loop = tmp_path / "loop.parquet"
    loop.symlink_to(loop.name)
    with pytest.raises(ValueError, match=r"loop\.parquet' cannot be written: too many levels of symbolic links"):
        analysis.save(loop)
    assert loop.is_symlink()
    (tmp_path / "afile").write_text("x")
    with pytest.raises(
        ValueError, match=r"afile/sub/a\.parquet' cannot be written: one of the folders on it is a file"
    ):
        analysis.save(tmp_path / "afile" / "sub" / "a.parquet")
    with pytest.raises(ValueError, match=r"afile/a\.parquet' cannot be written: one of the folders on it is a file"):
        analysis.save(tmp_path / "afile" / "a.parquet")
