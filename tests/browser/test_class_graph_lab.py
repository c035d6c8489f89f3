"""The class graph in a real JupyterLab: clicking a class or a confusion edge selects exactly those instances in
the kernel, a selection made in Python fades the classes it does not contain, and the search box selects a class."""

from __future__ import annotations

import numpy as np
import pytest

from .conftest import run_in_lab
from .test_explorer_lab import chart_point, gallery_total

VIEW = "document.querySelector(\"[data-chart='class_graph']\").__view"

CELLS = [
    "import numpy as np\nimport difficulty_widget as dw\nfrom difficulty_widget import semantics\n"
    "analysis = dw.Analysis.load('demo/analysis.parquet')\ndf = analysis.df",
    # the demo does not keep its model: a softmax regression on the digits gives real class templates
    "from difficulty_widget.data import load_digits\nfrom difficulty_widget.extract import train_small_model\n"
    "digits = load_digits()\n"
    "model = train_small_model(digits, 'linear', epochs=3, seed=0, progress=False).model\n"
    "structural = semantics.structural_similarity(semantics.class_templates(model))\n"
    "graph = semantics.class_graph(structural, labels=df.label, predictions=df.prediction,\n"
    "                              class_names=analysis.class_names)\n"
    "explorer = dw.Explorer(analysis, class_graph=graph)\nexplorer",
]


@pytest.fixture(scope="module")
def graph_page(lab, browser, demo_analysis):
    context, page = run_in_lab(lab, browser, "class_graph.ipynb", CELLS, viewport=(1400, 1100))
    page.page.wait_for_selector(".dw-explorer[data-ready='1'] [data-chart='class_graph'] canvas", timeout=90_000)
    kernel = lab.kernel_client("class_graph.ipynb")
    yield page, kernel
    kernel.close()
    page.page.screenshot(path=str(lab.root / "class_graph.png"))
    context.close()


def node_pixels(page, kernel) -> np.ndarray:
    xy = kernel.json("graph.nodes[['x', 'y']].values.tolist()")
    return np.array([chart_point(page, "class_graph", x, y) for x, y in xy])


def selection(kernel) -> list[int]:
    return kernel.json("[] if explorer.selection is None else explorer.selection.tolist()")


def wait_for_selection(page, kernel, want: list[int]) -> None:
    for _ in range(30):
        if selection(kernel) == want:
            return
        page.page.wait_for_timeout(200)
    assert selection(kernel) == want


def test_graph_draws_every_class_and_edge(graph_page):
    page, kernel = graph_page
    nodes = page.page.evaluate(f"() => {VIEW}.data('graph_nodes')")
    assert [n["label"] for n in nodes] == list(range(10))
    assert [n["n"] for n in nodes] == kernel.json("np.bincount(df.label, minlength=10).tolist()")
    assert kernel.json("len(graph.confusion_edges) > 0")
    assert not page.errors, page.errors


def test_clicking_a_class_selects_its_instances(graph_page):
    page, kernel = graph_page
    pixels = node_pixels(page, kernel)
    page.page.mouse.click(*pixels[3])
    wait_for_selection(page, kernel, kernel.json("df.loc[df.label == 3, 'id'].tolist()"))
    assert gallery_total(page) == kernel.json("int((df.label == 3).sum())")


def test_clicking_a_confusion_edge_selects_that_pair_both_ways(graph_page):
    page, kernel = graph_page
    pixels = node_pixels(page, kernel)
    edges = kernel.json("graph.edges[['a', 'b', 'count']].values.tolist()")
    confusions = kernel.json("graph.confusion_edges[['a', 'b']].values.tolist()")
    # a point on a confusion edge far from every node and from every other edge
    segments = [(pixels[a], pixels[b]) for a, b, _ in edges]
    target = None
    for a, b in confusions:
        for t in np.linspace(0.25, 0.75, 11):
            p = pixels[a] + t * (pixels[b] - pixels[a])
            pairs = zip(segments, edges, strict=True)
            others = [_distance(p, s, e) for (s, e), (ea, eb, _) in pairs if (ea, eb) != (a, b)]
            if np.linalg.norm(pixels - p, axis=1).min() > 12 and min(others, default=99) > 8:
                target = (a, b, p)
                break
        if target:
            break
    assert target is not None, "no clear point on any confusion edge"
    a, b, p = target
    page.page.mouse.click(*p)
    want = kernel.json(
        f"df.loc[((df.label == {a}) & (df.prediction == {b})) | ((df.label == {b}) & (df.prediction == {a})), 'id']"
        ".tolist()"
    )
    assert want
    wait_for_selection(page, kernel, want)
    pair = page.page.evaluate(f"() => {VIEW}.signal('graph_pair')")
    assert pair == [a, b]


def _distance(p: np.ndarray, s: np.ndarray, e: np.ndarray) -> float:
    d = e - s
    t = np.clip(np.dot(p - s, d) / max(np.dot(d, d), 1e-9), 0, 1)
    return float(np.linalg.norm(p - (s + t * d)))


def test_a_python_selection_fades_the_classes_it_does_not_contain(graph_page):
    page, kernel = graph_page
    kernel.run("explorer.select(df.loc[df.label.isin([2, 5]), 'id'].values[::2])")
    page.page.wait_for_function(
        "() => document.querySelector(\"[data-chart='class_graph']\").__view.data('graph_nodes')"
        ".map(n => n.active).join('') === '0010010000'"
    )
    selected = page.page.evaluate(
        "() => document.querySelector(\"[data-chart='class_graph']\").__view.data('graph_nodes').map(n => n.selected)"
    )
    assert selected == kernel.json("np.bincount(explorer.selected.label, minlength=10).tolist()")


def test_search_box_finds_and_selects_a_class(graph_page):
    page, kernel = graph_page
    name = kernel.json("analysis.class_names[7]")
    box = page.page.locator("[data-chart='class_graph'] .dw-graph-search")
    box.fill(name)
    page.page.wait_for_function(
        "() => document.querySelector(\"[data-chart='class_graph']\").__view.signal('graph_search') !== ''"
    )
    assert "1 classes match" in page.page.locator("[data-chart='class_graph'] .dw-graph-status").inner_text()
    box.press("Enter")
    wait_for_selection(page, kernel, kernel.json("df.loc[df.label == 7, 'id'].tolist()"))


def test_zoom_and_pan_keep_the_selection(graph_page):
    page, kernel = graph_page
    before = selection(kernel)
    pixels = node_pixels(page, kernel)
    centre = pixels.mean(axis=0)
    page.page.mouse.move(*centre)
    page.page.mouse.wheel(0, -400)
    page.page.mouse.down()
    page.page.mouse.move(centre[0] + 60, centre[1] + 30, steps=6)
    page.page.mouse.up()
    page.page.wait_for_timeout(500)
    moved = node_pixels(page, kernel)
    assert np.abs(moved - pixels).max() > 20  # the view zoomed and panned
    assert selection(kernel) == before
