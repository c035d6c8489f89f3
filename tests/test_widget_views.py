"""The Explorer's analysis views on the Python side: which panels show, the patterns heatmap's cells, named
patterns, saved subsets (API, UI messages, persistence), the instance view (percentiles, neighbours) and linked
panels, each checked against a direct computation written out here."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from difficulty_widget import Analysis, Explorer
from difficulty_widget.instance import nearest_neighbours, score_percentiles
from difficulty_widget.measures import model_scores
from difficulty_widget.projection import add_projection

N = 90


@pytest.fixture()
def analysis() -> Analysis:
    rng = np.random.default_rng(0)
    labels = np.arange(N) % 3
    frame = pd.DataFrame({"id": np.arange(500, 500 + N)[::-1], "label": labels})  # ids not in row order
    frame = pd.concat([frame, model_scores(rng.normal(size=(N, 3)) * 2, labels)], axis=1)
    frame["knn_agreement"] = rng.random(N)
    frame.loc[::7, "knn_agreement"] = np.nan
    return Analysis(frame, ["cat", "dog", "bird"])


@pytest.fixture()
def embeddings() -> np.ndarray:
    return np.random.default_rng(1).normal(size=(N, 5)).astype(np.float32)


def test_default_views_follow_the_table(analysis, embeddings):
    ex = Explorer(analysis)
    assert ex.views == ["scatter", "confusion", "classes", "histograms", "patterns", "gallery"]
    add_projection(analysis, embeddings)
    ex = Explorer(analysis)
    assert "projection" in ex.views
    ids = [s["id"] for s in ex._specs]
    assert ids[:4] == ["scatter", "projection", "confusion", "classes"] and "patterns" in ids
    projection = next(s["spec"] for s in ex._specs if s["id"] == "projection")
    assert projection["params"][0]["name"] == "projection_brush"
    assert projection["encoding"]["x"]["field"] == "proj_x"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"views": ["scatter", "flows"]}, r"unknown \['flows'\]; valid views"),
        ({"views": ["projection"]}, "need: proj_x / proj_y"),
        ({"views": ["class_graph"]}, "need: class_graph="),
        ({"patterns": ("loss", "nope")}, "patterns: 'nope' is not a numeric column"),
        ({"pattern_bins": 16}, "pattern_bins must be an integer in"),
        ({"pattern_method": "kmeans"}, "pattern_method must be one of"),
        ({"embeddings": np.zeros((3, 2))}, r"embeddings must be an \(N, d\) array"),
        ({"class_score": "nope"}, "class_score='nope' is not a column"),
    ],
)
def test_bad_view_options_are_named(analysis, kwargs, message):
    with pytest.raises(ValueError, match=message):
        Explorer(analysis, **kwargs)


def test_pattern_cells_are_quantile_bins_of_the_two_measures(analysis):
    ex = Explorer(analysis, patterns=("loss", "knn_agreement"), pattern_bins=3)
    cells = np.frombuffer(ex._pattern_cells, dtype=np.uint8)
    df = analysis.df
    x = df["loss"].to_numpy(float)
    y = df["knn_agreement"].to_numpy(float)
    ok = np.isfinite(x) & np.isfinite(y)
    x_edges = np.unique(np.quantile(x[ok], [0, 1 / 3, 2 / 3, 1]))
    y_edges = np.unique(np.quantile(y[ok], [0, 1 / 3, 2 / 3, 1]))
    for i in range(N):
        if not ok[i]:
            assert cells[i] == 255
            continue
        xb = min(int(np.sum(x_edges <= x[i])) - 1, len(x_edges) - 2)
        yb = min(int(np.sum(y_edges <= y[i])) - 1, len(y_edges) - 2)
        assert cells[i] == xb * (len(y_edges) - 1) + yb
    meta = next(s["spec"] for s in ex._specs if s["id"] == "patterns")["usermeta"]["dw_cells"]
    assert (meta["nx"], meta["ny"]) == (3, 3) and len(meta["x_ranges"]) == 3


def test_select_pattern_matches_a_hand_written_query(analysis):
    ex = Explorer(analysis)
    ex.select_pattern("confident but wrong")
    df = analysis.df
    want = df.loc[~df["correct"] & (df["confidence"] >= 0.9), "id"]
    assert len(want) and ex.selection.tolist() == sorted(want)
    assert "confident but wrong" in ex.available_patterns and "deep but correct" not in ex.available_patterns
    with pytest.raises(ValueError, match="unknown pattern"):
        ex.select_pattern("hard")


def test_subsets_save_combine_survive_a_reload_and_answer_the_ui(analysis, tmp_path):
    ex = Explorer(analysis)
    with pytest.raises(ValueError, match="nothing is selected"):
        ex.save_subset("empty")
    ex.select("label == 0")
    ex.save_subset("cats")
    ex.select("loss > 1")
    ex.save_subset("hard")
    with pytest.raises(ValueError, match="already"):
        ex.save_subset("hard")
    assert ex._subset_names == ["cats", "hard"]
    df = analysis.df
    cats, hard = set(df.loc[df.label == 0, "id"]), set(df.loc[df.loss > 1, "id"])
    ex.select_subset("cats", "hard", "intersection")
    assert set(ex.selection.tolist()) == cats & hard
    ex.select_subset("cats", "hard", "difference")
    assert set(ex.selection.tolist()) == cats - hard
    sent = []
    ex.send = lambda msg, buffers=None: sent.append(msg)
    ex._on_message(
        ex, {"type": "subset", "action": "select", "name": "cats", "operation": "union", "other": "hard"}, []
    )
    assert set(ex.selection.tolist()) == cats | hard
    ex._on_message(ex, {"type": "subset", "action": "save", "name": "either"}, [])
    assert set(ex.subsets["either"].tolist()) == cats | hard
    ex._on_message(ex, {"type": "subset", "action": "save", "name": "cats"}, [])
    assert sent and sent[-1]["type"] == "subset_error" and "cats" in sent[-1]["message"]
    with pytest.raises(ValueError, match=r"not in|outside|unknown|ids"):
        ex.save_subset("bogus", [1, 2, 3])  # ids that are not in the table
    path = analysis.save(tmp_path / "a.parquet")
    again = Explorer(Analysis.load(path))
    assert list(again.subsets) == ["cats", "hard", "either"]
    assert again.subsets["hard"].tolist() == sorted(hard)


def test_the_subsets_bar_gets_messages_for_the_person_clicking(analysis):
    """The bar's messages say what to click; the Python API keeps its own errors for Python callers."""
    ex = Explorer(analysis)
    sent = []
    ex.send = lambda msg, buffers=None: sent.append(msg)

    def click(**request) -> str | None:
        before = len(sent)
        ex._on_message(ex, {"type": "subset", **request}, [])
        assert len(sent) - before <= 1
        return sent[-1]["message"] if len(sent) > before else None

    assert click(action="save", name="cats") == "Nothing is selected: brush a chart or click a cell first, then save."
    assert "cats" not in ex.subsets
    df = analysis.df
    ex.select("label == 0")
    assert click(action="save", name="cats") is None
    ex.select("label == 1")
    taken = click(action="save", name="cats")
    assert taken == 'A subset named "cats" exists: click Save again to replace it.'
    assert "overwrite" not in taken and ex.subsets["cats"].tolist() == sorted(df.id[df.label == 0])  # kept
    assert click(action="save", name="cats", overwrite=True) is None  # the second click replaces it
    assert ex.subsets["cats"].tolist() == sorted(df.id[df.label == 1])
    assert click(action="select", name="dogs") == 'No subset named "dogs": it may have been removed.'
    assert click(action="select", name="cats", operation="union", other="gone") == (
        'No subset named "gone": it may have been removed.'
    )
    with pytest.raises(ValueError, match="pass overwrite=True to replace it"):  # Python callers still read this
        ex.save_subset("cats")


def test_instance_view_scores_percentiles_and_neighbours(analysis, embeddings):
    ex = Explorer(analysis, embeddings=embeddings, k_neighbours=4)
    df = analysis.df
    position = 10
    ex.focus = int(df["id"].iloc[position])
    detail = ex._focus_detail
    assert detail["id"] == ex.focus
    scores = {r["name"]: r for r in detail["scores"]}
    loss = df["loss"].to_numpy(float)
    assert scores["loss"]["percentile"] == pytest.approx(100 * np.mean(loss <= loss[position]))
    assert scores["loss"]["harder_than"] == pytest.approx(scores["loss"]["percentile"])
    conf = df["confidence"].to_numpy(float)
    assert scores["confidence"]["harder_than"] == pytest.approx(100 - 100 * np.mean(conf <= conf[position]))
    distances = np.linalg.norm(embeddings.astype(float) - embeddings[position].astype(float), axis=1)
    distances[position] = np.inf
    want = np.argsort(distances, kind="stable")[:4]
    got = detail["neighbours"]
    assert [n["position"] for n in got] == want.tolist()
    assert [n["id"] for n in got] == df["id"].to_numpy()[want].tolist()
    assert [n["same_label"] for n in got] == (df["label"].to_numpy()[want] == df["label"][position]).tolist()
    ex.focus = None
    assert ex._focus_detail == {}
    assert Explorer(analysis)._focus_detail == {}


def test_nearest_neighbours_against_brute_force_with_candidates():
    rng = np.random.default_rng(2)
    feats = rng.normal(size=(300, 7))
    candidates = rng.random(300) < 0.5
    for position in (0, 17, 299):
        got, dist = nearest_neighbours(feats, position, k=6, candidates=candidates)
        brute = [(np.linalg.norm(feats[j] - feats[position]), j) for j in range(300) if candidates[j] and j != position]
        brute.sort()
        assert got.tolist() == [j for _, j in brute[:6]]
        assert np.allclose(dist, [d for d, _ in brute[:6]])
    with pytest.raises(ValueError, match="position must be a row index"):
        nearest_neighbours(feats, 300)
    with pytest.raises(ValueError, match="candidates must be a boolean mask"):
        nearest_neighbours(feats, 0, candidates=np.ones(5, bool))


def test_score_percentiles_skip_nan_and_unregistered(analysis):
    df = analysis.df.assign(extra=np.arange(N, dtype=float))
    table = score_percentiles(df, 3, columns=["knn_agreement", "extra"])
    knn = df["knn_agreement"].to_numpy(float)
    finite = knn[np.isfinite(knn)]
    row = table.set_index("name").loc["knn_agreement"]
    assert row["percentile"] == pytest.approx(100 * np.mean(finite <= knn[3]))
    assert row["harder_than"] == pytest.approx(100 - row["percentile"])  # low agreement is hard
    assert np.isnan(table.set_index("name").loc["extra", "harder_than"])


def test_a_panel_stays_linked_both_ways(analysis):
    ex = Explorer(analysis)
    side = ex.panel("patterns")
    assert side.views == ["patterns"] and [s["id"] for s in side._specs] == ["patterns"]
    ex.select([500, 501])
    assert side.selection.tolist() == [500, 501]
    side.select("label == 2")
    assert ex.selection.tolist() == sorted(analysis.df.loc[analysis.df.label == 2, "id"])
    side.focus = 510
    assert ex.focus == 510
    assert side.subsets is ex.subsets
    ex.save_subset("two", [500, 501])
    side.subsets.union("two", "two", as_="again")  # edits through the shared mapping reach both widgets
    assert ex._subset_names == side._subset_names == ["two", "again"]
    assert analysis.tables["subsets"]["subset"].cat.categories.tolist() == ["two", "again"]


def test_flow_view_sends_the_layer_tables_in_row_order_and_a_reference(analysis):
    from difficulty_widget.measures.flow import layer_tables

    rng = np.random.default_rng(5)
    agreement = rng.random((N, 3)).astype(np.float32)
    agreement[::9, 1] = np.nan
    matches = rng.random((N, 3)) < 0.5
    order = rng.permutation(N)  # tables in another row order than the analysis
    ids = analysis.df["id"].to_numpy()
    for name, table in layer_tables(ids[order], agreement[order], matches[order], ["a", "b", "c"]).items():
        analysis.add_table(name, table)
    ex = Explorer(analysis)
    assert "flow" in ex.views and any(s["id"] == "flow" for s in ex._specs)
    sent = np.frombuffer(ex._flow, dtype=np.float32).reshape(3, N)
    assert np.array_equal(sent, agreement.T, equal_nan=True)
    assert np.array_equal(np.frombuffer(ex._flow_matches, dtype=np.uint8).reshape(3, N), matches.T)
    spec = next(s["spec"] for s in ex._specs if s["id"] == "flow")
    assert spec["usermeta"]["dw_flow"]["probes"] == ["a", "b", "c"]
    ex.select("label == 1")
    ex.save_subset("ones")
    ex.reference = "ones"
    positions = np.frombuffer(ex._reference, dtype=np.uint32)
    assert positions.tolist() == np.flatnonzero(analysis.df["label"].to_numpy() == 1).tolist()
    with pytest.raises(ValueError, match="no subset named 'twos'"):
        ex.reference = "twos"
    assert ex.reference == "ones"
    ex.subsets.remove("ones")  # through the mapping itself: the Explorer hears of it
    assert ex.reference == "" and ex._reference == b""
    assert "flow" not in Explorer(Analysis(analysis.df, analysis.class_names)).views


def test_a_reference_adds_its_line_to_the_histograms(analysis):
    ex = Explorer(analysis, histograms=["loss"])
    hist = next(s["spec"] for s in ex._specs if s["id"] == "hist_loss")
    assert "layer" not in hist and "dw_reference" not in hist.get("usermeta", {})
    ex.select("label == 2")
    ex.save_subset("twos")
    ex.reference = "twos"
    hist = next(s["spec"] for s in ex._specs if s["id"] == "hist_loss")
    assert [layer.get("data", {}).get("name") for layer in hist["layer"]][1] == "ref_loss"
    assert hist["data"] == {"name": "instances"} and hist["usermeta"]["dw_reference"]["column"] == "loss"
    ex.reference = ""
    assert "layer" not in next(s["spec"] for s in ex._specs if s["id"] == "hist_loss")


def test_hundreds_of_classes_leave_the_matrix_views_out_unless_asked():
    n, c = 2000, 150
    rng = np.random.default_rng(0)
    labels = rng.integers(0, c, n)
    frame = pd.concat([pd.DataFrame({"id": np.arange(n), "label": labels}),
                       model_scores(rng.normal(size=(n, c)), labels)], axis=1)  # fmt: skip
    analysis = Analysis(frame, [f"c{i}" for i in range(c)])
    assert "confusion" not in Explorer(analysis).views and "classes" not in Explorer(analysis).views
    assert Explorer(analysis, views=["confusion", "classes"]).views == ["confusion", "classes"]


def test_colour_by_named_pattern(analysis):
    from difficulty_widget.patterns import pattern_labels

    ex = Explorer(analysis, color="pattern")
    scatter = next(s["spec"] for s in ex._specs if s["id"] == "scatter")
    assert scatter["encoding"]["color"]["field"] == "pattern"
    assert np.asarray(ex._frame["pattern"]).tolist() == np.asarray(pattern_labels(analysis.df)).tolist()
    assert "pattern" not in analysis.df.columns  # the analysis itself is not changed


def test_views_can_change_later_and_are_checked(analysis):
    ex = Explorer(analysis)
    ex.views = ["patterns", "gallery"]
    assert [s["id"] for s in ex._specs] == ["patterns"]
    with pytest.raises(ValueError, match=r"views: unknown \['bogus'\]"):
        ex.views = ["bogus"]
    with pytest.raises(ValueError, match="need: class_graph="):
        ex.views = ["class_graph"]
    assert ex.views == ["patterns", "gallery"]
