"""Label issues in the Explorer: the "label issues" pattern, the suggested label in the instance view, the
estimated errors per class in the per-class panel, label-issue pairs as class-graph edges, and the relabelling
CSV, each checked against a direct computation written out here (numpy bincount, a Counter of pairs)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest

from difficulty_widget import Analysis, Explorer
from difficulty_widget.instance import suggestion_text
from difficulty_widget.measures import model_scores
from difficulty_widget.semantics import class_graph, structural_similarity
from difficulty_widget.subsets import relabelling_table
from difficulty_widget.widget.transport import table_columns

N = 120
NAMES = ["T-shirt", "shirt", "coat", "bag"]


@pytest.fixture()
def analysis() -> Analysis:
    """Ids not in row order; the last 30 rows are test rows (no flag, no suggestion); a fifth of the training rows
    flagged, each with a suggested label other than its own."""
    rng = np.random.default_rng(3)
    labels = np.arange(N) % 4
    frame = pd.DataFrame({"id": np.arange(1000, 1000 + N)[::-1], "label": labels})
    frame = pd.concat([frame, model_scores(rng.normal(size=(N, 4)) * 2, labels)], axis=1)
    train = np.arange(N) < 90
    flagged = train & (rng.random(N) < 0.2)
    suggested = labels.copy()
    suggested[flagged] = (labels[flagged] + rng.integers(1, 4, flagged.sum())) % 4
    # many shirt <-> T-shirt issues, so that the pair ranking is not a tie
    pair = np.flatnonzero(train & ~flagged & (labels == 1))[:10]
    flagged[pair], suggested[pair] = True, 0
    frame["label_issue"] = pd.array(np.where(train, flagged, False), dtype="boolean")
    frame.loc[~train, "label_issue"] = pd.NA
    frame["label_issue_score"] = np.where(train, rng.random(N), np.nan)
    frame["suggested_label"] = pd.array(suggested, dtype="Int64")
    frame.loc[~train, "suggested_label"] = pd.NA
    return Analysis(frame, NAMES)


def flags_of(analysis: Analysis) -> np.ndarray:
    return analysis.df["label_issue"].fillna(False).to_numpy(dtype=bool)


def graph_of(analysis: Analysis):
    templates = np.random.default_rng(0).normal(size=(4, 6))
    df = analysis.df
    return class_graph(structural_similarity(templates), labels=df.label, predictions=df.prediction, class_names=NAMES)


def spec_of(explorer: Explorer, chart: str) -> dict:
    return next(s["spec"] for s in explorer._specs if s["id"] == chart)


def test_the_label_issues_pattern_selects_exactly_the_flagged_ids(analysis):
    ex = Explorer(analysis)
    flagged = analysis.df["id"].to_numpy()[flags_of(analysis)]
    assert "label issues" in ex.available_patterns
    assert [p["name"] for p in ex._pattern_names] == ex.available_patterns  # the picker's list
    ex.select_pattern("label issues")
    np.testing.assert_array_equal(ex.selection, np.sort(flagged))
    assert ex.selected["label_issue"].all() and len(ex.selected) == flags_of(analysis).sum()
    ex.clear()
    ex._on_message(ex, {"type": "pattern", "name": "label issues"}, [])  # the picker in the browser
    np.testing.assert_array_equal(ex.selection, np.sort(flagged))


def test_an_unknown_pattern_from_the_picker_answers_with_an_error(analysis, monkeypatch):
    ex = Explorer(analysis)
    sent = []
    monkeypatch.setattr(ex, "send", lambda content, buffers=None: sent.append(content))
    ex._on_message(ex, {"type": "pattern", "name": "nope"}, [])
    assert sent[0]["type"] == "subset_error" and "unknown pattern 'nope'" in sent[0]["message"]
    assert ex.selection is None


def test_suggestion_text_names_both_classes_only_when_they_differ():
    assert suggestion_text(1, 0, NAMES) == "label: shirt → suggested: T-shirt"
    assert suggestion_text(np.int64(2), np.float64(3.0), NAMES) == "label: coat → suggested: bag"
    assert suggestion_text(1, 2) == "label: 1 → suggested: 2"
    for same_or_missing in (1, pd.NA, np.nan, None):
        assert suggestion_text(1, same_or_missing, NAMES) is None


def test_the_instance_view_shows_the_suggested_label(analysis):
    ex = Explorer(analysis)
    df = analysis.df
    flagged, train = flags_of(analysis), df["label_issue"].notna().to_numpy()
    for position in (np.flatnonzero(flagged)[0], np.flatnonzero(train & ~flagged)[0], np.flatnonzero(~train)[0]):
        ex.focus = int(df["id"].iloc[position])
        label, suggested = int(df["label"].iloc[position]), df["suggested_label"].iloc[position]
        want = None if not flagged[position] else f"label: {NAMES[label]} → suggested: {NAMES[int(suggested)]}"
        assert ex._focus_detail["suggestion"] == want
    # the captions read the suggested label from the table the browser gets
    assert {"label_issue", "suggested_label", "label_issue_score"} <= set(table_columns(df))
    plain = Explorer(Analysis(df.drop(columns=["suggested_label"]), NAMES))
    plain.focus = int(df["id"].iloc[0])
    assert plain._focus_detail["suggestion"] is None


def test_the_per_class_panel_holds_the_estimated_errors_per_class(analysis):
    ex = Explorer(analysis)
    spec = spec_of(ex, "classes")
    labels, flagged = analysis.df["label"].to_numpy(), flags_of(analysis)
    train = analysis.df["label_issue"].notna().to_numpy()
    errors = np.bincount(labels[flagged], minlength=4)
    meta = spec["usermeta"]["dw_classes"]
    assert meta["estimated_errors"] == errors.tolist()
    np.testing.assert_allclose(meta["error_rate"], errors / np.bincount(labels[train], minlength=4))
    fields = [layer["encoding"]["x"].get("field") for panel in spec["hconcat"] for layer in panel["layer"]]
    assert fields == ["accuracy", "selected_accuracy", "mean_score", "selected_mean_score", "estimated_errors",
                      "selected_estimated_errors"]  # fmt: skip
    without = Explorer(Analysis(analysis.df.drop(columns=["label_issue"]), NAMES))
    spec = spec_of(without, "classes")
    assert "estimated_errors" not in spec["usermeta"]["dw_classes"] and len(spec["hconcat"]) == 2


def issue_edges(spec: dict) -> list[dict]:
    values = [v for dataset in spec["datasets"].values() for v in dataset]  # Altair gathers inline data here
    return [v for v in values if v.get("kind") == "label_issue"]


def test_label_issue_pairs_are_edges_of_the_class_graph(analysis):
    df = analysis.df
    flagged = flags_of(analysis)
    labels = df["label"].to_numpy()[flagged]
    suggested = df["suggested_label"].to_numpy(dtype=np.int64, na_value=-1)[flagged]
    directed = Counter(zip(labels.tolist(), suggested.tolist(), strict=True))
    totals = Counter({(min(a, b), max(a, b)): 0 for a, b in directed})
    for (a, b), count in directed.items():
        totals[(min(a, b), max(a, b))] += count
    ranked = sorted(totals.items(), key=lambda item: (-item[1], item[0]))

    graph = graph_of(analysis)
    ex = Explorer(analysis, class_graph=graph)
    edges = issue_edges(spec_of(ex, "class_graph"))
    assert len(edges) == len(ranked) <= 10
    assert [((e["a"], e["b"]), e["count"]) for e in edges] == ranked
    assert ranked[0][0] == (0, 1)  # T-shirt / shirt, as the fixture made it
    for e in edges:
        assert (e["a_to_b"], e["b_to_a"]) == (directed[(e["a"], e["b"])], directed[(e["b"], e["a"])])
        assert (e["name_a"], e["name_b"]) == (NAMES[e["a"]], NAMES[e["b"]])
    # set beside the line between the two nodes, parallel to it
    xy = graph.nodes[["x", "y"]].to_numpy()
    for e in edges:
        shift = np.array([e["x"], e["y"]]) - xy[e["a"]]
        np.testing.assert_allclose(shift, np.array([e["x2"], e["y2"]]) - xy[e["b"]], atol=1e-12)
        assert 0 < np.linalg.norm(shift) < 0.05 * np.ptp(xy)
    marks = [layer["mark"] for layer in spec_of(ex, "class_graph")["layer"]]
    assert {"type": "rule", "strokeDash": [5, 3], "opacity": 0.85} in marks  # the dashed style of its own

    top = Explorer(analysis, class_graph=graph, label_issue_pairs=1)
    assert [(e["a"], e["b"]) for e in issue_edges(spec_of(top, "class_graph"))] == [ranked[0][0]]
    none = Explorer(analysis, class_graph=graph, label_issue_pairs=0)
    assert issue_edges(spec_of(none, "class_graph")) == []
    plain = Explorer(Analysis(df.drop(columns=["suggested_label"]), NAMES), class_graph=graph)
    assert issue_edges(spec_of(plain, "class_graph")) == []
    with pytest.raises(ValueError, match="label_issue_pairs must be an integer >= 0"):
        Explorer(analysis, label_issue_pairs=-1)
    panel = top.panel("class_graph")  # the option carries over to a panel
    assert len(issue_edges(spec_of(panel, "class_graph"))) == 1


def test_relabelling_csv_of_the_selection_a_subset_or_ids(analysis, tmp_path):
    ex = Explorer(analysis)
    ex.select_pattern("label issues")
    path = tmp_path / "relabel.csv"
    table = ex.relabelling_csv(path)
    df = analysis.df.set_index("id")
    ids = np.sort(ex.selection)
    assert list(table.columns) == ["id", "label", "label_name", "suggested_label", "suggested_name",
                                   "label_issue_score", "label_issue"]  # fmt: skip
    np.testing.assert_array_equal(table["id"], ids)
    np.testing.assert_array_equal(table["label"], df.loc[ids, "label"])
    assert table["label_name"].tolist() == [NAMES[c] for c in df.loc[ids, "label"]]
    np.testing.assert_array_equal(table["suggested_label"], df.loc[ids, "suggested_label"].astype(int))
    assert table["suggested_name"].tolist() == [NAMES[c] for c in df.loc[ids, "suggested_label"]]
    np.testing.assert_array_equal(table["label_issue_score"], df.loc[ids, "label_issue_score"])
    assert (table["suggested_label"] != table["label"]).all() and table["label_issue"].all()
    back = pd.read_csv(path)
    pd.testing.assert_frame_equal(back, table.astype({"label_name": object, "suggested_name": object}),
                                  check_dtype=False)  # fmt: skip

    test_rows = analysis.df["id"][analysis.df["label_issue"].isna()].to_numpy()[:3]
    ex.save_subset("mixed", [*test_rows, *ids[:2]])
    mixed = ex.relabelling_csv(ids="mixed")
    np.testing.assert_array_equal(mixed["id"], np.sort([*test_rows, *ids[:2]]))
    unknown = mixed["id"].isin(test_rows).to_numpy()
    assert mixed.loc[unknown, ["suggested_label", "suggested_name", "label_issue"]].isna().all().all()
    assert mixed.loc[unknown, "label_issue_score"].isna().all()
    pd.testing.assert_frame_equal(mixed, relabelling_table(analysis, ex.subsets["mixed"]))
    pd.testing.assert_frame_equal(ex.relabelling_csv(ids=[int(ids[1]), int(ids[0])]), table.iloc[:2])


def test_relabelling_csv_errors_are_clear(analysis):
    ex = Explorer(analysis)
    with pytest.raises(ValueError, match="nothing is selected"):
        ex.relabelling_csv()
    ex.select([])
    with pytest.raises(ValueError, match="nothing is selected"):
        ex.relabelling_csv()
    with pytest.raises(ValueError, match="no subset named 'nope'"):
        ex.relabelling_csv(ids="nope")
    with pytest.raises(ValueError, match=r"id\(s\) are not in df\['id'\]: \[7\]"):
        ex.relabelling_csv(ids=[7])
    bare = Explorer(Analysis(analysis.df.drop(columns=["suggested_label", "label_issue_score"]), NAMES))
    bare.select([1000])
    with pytest.raises(ValueError, match=r"needs the columns \['suggested_label', 'label_issue_score'\]"):
        bare.relabelling_csv()
