"""Linking both ways, in a real JupyterLab: hovering a point of the scatter shows that image's thumbnail and
caption; focusing (clicking) or hovering a gallery image puts a ring on its point in the scatter. Both scatter
modes: Vega marks (the digits demo's 1,797 points) and the canvas painter (the same table with vega_points_max=100).
The points' pixels are computed here from the kernel's columns and the Vega view's scales; the expected image is the
isolated point chosen by the test."""

from __future__ import annotations

import json

import numpy as np
import pytest

from .conftest import run_in_lab

CELLS = [
    "import difficulty_widget as dw\nfrom difficulty_widget.data import load_digits\n"
    "class CanvasExplorer(dw.Explorer):\n    vega_points_max = 100\n",
    "analysis = dw.Analysis.load('demo/analysis.parquet')\nexplorer = dw.Explorer(analysis, images=load_digits())\n"
    "explorer",
    "canvas_explorer = CanvasExplorer(analysis, images=load_digits())\ncanvas_explorer",
]

# The page position of (x, y) data values in the scatter of the idx-th Explorer.
TO_PAGE = """([idx, x, y]) => {
  const box = document.querySelectorAll('.dw-explorer')[idx].querySelector("[data-chart='scatter']");
  const view = box.__view;
  const canvas = box.querySelector('canvas:not(.dw-points)');
  const r = canvas.getBoundingClientRect();
  const [ox, oy] = view.origin();
  const pad = view.padding();
  return [r.left + ox + pad.left + view.scale('x')(x), r.top + oy + pad.top + view.scale('y')(y)];
}"""


@pytest.fixture(scope="module")
def linked(lab, browser, demo_analysis):
    context, page = run_in_lab(lab, browser, "linking.ipynb", CELLS, viewport=(1500, 1000))
    page.page.wait_for_function(
        "() => [...document.querySelectorAll('.dw-explorer')].filter(e => e.dataset.ready === '1').length === 2",
        timeout=120_000,
    )
    kernel = lab.kernel_client("linking.ipynb")
    table = kernel.json("analysis.df[['id', explorer.x, explorer.y]].to_dict(orient='list')")
    kernel.close()
    yield page, table
    context.close()


def isolated_row(table: dict, page, idx: int) -> int:
    """A row whose point lies at least 20 px from every other point (in the page's pixels)."""
    keys = [k for k in table if k != "id"]
    xs, ys = np.asarray(table[keys[0]], float), np.asarray(table[keys[1]], float)
    corners = (
        page.page.evaluate(TO_PAGE, [idx, float(np.nanmin(xs)), float(np.nanmin(ys))]),
        page.page.evaluate(TO_PAGE, [idx, float(np.nanmax(xs)), float(np.nanmax(ys))]),
    )
    (x0, y0), (x1, y1) = corners
    px = x0 + (xs - xs.min()) / (xs.max() - xs.min()) * (x1 - x0)
    py = y0 + (ys - ys.min()) / (ys.max() - ys.min()) * (y1 - y0)
    d = (px[:, None] - px[None, :]) ** 2 + (py[:, None] - py[None, :]) ** 2
    np.fill_diagonal(d, np.inf)
    far = np.flatnonzero(np.sqrt(d.min(axis=1)) >= 20)
    assert far.size, "no isolated point in the scatter"
    return int(far[0])


@pytest.mark.parametrize("idx", [0, 1], ids=["vega-marks", "canvas"])
def test_hovering_a_point_shows_its_thumbnail_and_caption(linked, idx):
    page, table = linked
    row = isolated_row(table, page, idx)
    keys = [k for k in table if k != "id"]
    page.page.evaluate(
        "(idx) => document.querySelectorAll('.dw-explorer')[idx].closest('.jp-Cell').scrollIntoView()", idx
    )
    page.page.wait_for_timeout(300)
    x, y = page.page.evaluate(TO_PAGE, [idx, table[keys[0]][row], table[keys[1]][row]])
    page.page.mouse.move(x + 3, y - 2)
    tip = page.page.locator(".dw-explorer").nth(idx).locator("[data-chart='scatter'] .dw-hover")
    expected = str(table["id"][row])
    page.page.wait_for_function(
        "([idx, id]) => { const t = document.querySelectorAll('.dw-explorer')[idx]"
        ".querySelector(\"[data-chart='scatter'] .dw-hover\");"
        " return t && t.style.display !== 'none' && t.dataset.id === id && t.dataset.thumbnail === '1'; }",
        arg=[idx, expected],
        timeout=15_000,
    )
    assert tip.locator(".dw-hover-caption").inner_text().startswith(f"#{expected} ")
    assert tip.locator("img").count() == 1
    # away from every point: no tooltip
    page.page.mouse.move(x + 400, y + 400)
    page.page.wait_for_timeout(200)
    assert tip.evaluate("t => t.style.display") == "none" or tip.get_attribute("data-id") != expected
    assert not page.errors, page.errors


@pytest.mark.parametrize("idx", [0, 1], ids=["vega-marks", "canvas"])
def test_focusing_or_hovering_a_gallery_image_marks_its_point(linked, idx):
    page, table = linked
    keys = [k for k in table if k != "id"]
    root = page.page.locator(".dw-explorer").nth(idx)
    root.evaluate("r => r.closest('.jp-Cell').scrollIntoView()")
    cells = root.locator(".dw-cell")
    first, second = cells.nth(0), cells.nth(1)
    first.click()
    focused = first.get_attribute("data-id")
    scatter = root.locator("[data-chart='scatter']")
    page.page.wait_for_function(
        "([idx, id]) => document.querySelectorAll('.dw-explorer')[idx]"
        ".querySelector(\"[data-chart='scatter']\").dataset.marked === id",
        arg=[idx, focused],
        timeout=10_000,
    )
    # the ring sits on the focused image's point
    row = table["id"].index(int(focused))
    x, y = page.page.evaluate(TO_PAGE, [idx, table[keys[0]][row], table[keys[1]][row]])
    ring = scatter.locator(".dw-ring").bounding_box()
    assert abs(ring["x"] + ring["width"] / 2 - x) < 3 and abs(ring["y"] + ring["height"] / 2 - y) < 3, (ring, x, y)
    # hovering another thumbnail moves the ring there; leaving it brings it back to the focused image
    second.hover()
    hovered = second.get_attribute("data-id")
    assert hovered != focused
    page.page.wait_for_function(
        "([idx, id]) => document.querySelectorAll('.dw-explorer')[idx]"
        ".querySelector(\"[data-chart='scatter']\").dataset.marked === id",
        arg=[idx, hovered],
        timeout=10_000,
    )
    page.page.mouse.move(5, 5)
    page.page.wait_for_function(
        "([idx, id]) => document.querySelectorAll('.dw-explorer')[idx]"
        ".querySelector(\"[data-chart='scatter']\").dataset.marked === id",
        arg=[idx, focused],
        timeout=10_000,
    )
    assert not page.errors, page.errors


# The texts of a chart's legend labels, read from its Vega scenegraph.
LEGEND_TEXTS = """(idx) => {
  const view = document.querySelectorAll('.dw-explorer')[idx].querySelector("[data-chart='scatter']").__view;
  const out = [];
  const walk = (node) => {
    if (!node) return;
    if (node.role === 'legend-label') for (const item of node.items || []) out.push(String(item.text));
    for (const item of node.items || []) walk(item);
  };
  walk(view.scenegraph().root);
  return out;
}"""


# Per legend label, how far its text's right end lies beyond the right edge of the chart's canvas (in pixels).
LABEL_OVERHANG = """(idx) => {
  const box = document.querySelectorAll('.dw-explorer')[idx].querySelector("[data-chart='scatter']");
  const view = box.__view;
  const canvas = box.querySelector('canvas');
  const ctx = document.createElement('canvas').getContext('2d');
  const out = [];
  const walk = (node, x) => {
    if (!node) return;
    for (const item of node.items || []) {
      if (node.role === 'legend-label') {
        ctx.font = `${item.fontWeight || 'normal'} ${item.fontSize || 10}px ${item.font || 'sans-serif'}`;
        out.push(x + (item.x || 0) + ctx.measureText(String(item.text)).width - canvas.clientWidth);
      }
      if (item.items) walk(item, x + (item.x || 0));
    }
  };
  walk(view.scenegraph().root, view.origin()[0] + view.padding().left);
  return out;
}"""


@pytest.mark.parametrize("idx", [0, 1], ids=["vega-marks", "canvas"])
def test_the_legend_shows_selected_and_total_counts(linked, lab, idx):
    page, _ = linked
    kernel = lab.kernel_client("linking.ipynb")
    try:
        name = "explorer" if idx == 0 else "canvas_explorer"
        kernel.run(f"{name}.select(analysis.df.id[analysis.df.label.isin([1, 7])].iloc[::2])")
        counts = kernel.json(
            "{str(c).lower(): [int((analysis.df.correct == c).sum()), "
            "int((analysis.df.correct == c)[analysis.df.label.isin([1, 7])].iloc[::2].sum())] for c in (True, False)}"
        )
    finally:
        kernel.close()
    expected = sorted(f"{key}  {sel} / {total}" for key, (total, sel) in counts.items())
    page.page.wait_for_function(
        "([idx, want]) => { const f = " + LEGEND_TEXTS + "; return JSON.stringify(f(idx).sort()) === want; }",
        arg=[idx, json.dumps(expected, separators=(",", ":"))],
        timeout=10_000,
    )
    page.page.wait_for_timeout(300)
    # the longer labels fit: every legend label ends inside the chart's canvas, none is cut at its edge
    overhang = page.page.evaluate(LABEL_OVERHANG, idx)
    assert overhang and max(overhang) <= 0, overhang
    assert not page.errors, page.errors
