"""The Explorer's compact layout in a real JupyterLab: at 1500 x 1000 the main scatter and a full row of gallery
thumbnails are in view together, with the cell's top scrolled into view and nothing scrolled inside the output; the
other charts sit beneath the scatter behind a strip of buttons; a narrow window stacks everything in one column."""

from __future__ import annotations

import pytest

from .conftest import run_in_lab

CELLS = [
    "import difficulty_widget as dw\nfrom difficulty_widget.data import load_digits",
    "analysis = dw.Analysis.load('demo/analysis.parquet')\nexplorer = dw.Explorer(analysis, images=load_digits())\n"
    "explorer",
]
WIDTH, HEIGHT = 1500, 1000

# Page rectangles of the scatter's canvas, the gallery's cells, and the parts of the layout.
GEOMETRY = """() => {
  const rect = (el) => { const r = el.getBoundingClientRect(); return { x: r.x, y: r.y, right: r.right,
    bottom: r.bottom, width: r.width, height: r.height }; };
  const root = document.querySelector('.dw-explorer');
  const scroll = root.querySelector('.dw-scroll');
  return {
    layout: root.dataset.layout,
    width: root.clientWidth,
    scatter: rect(root.querySelector("[data-chart='scatter'] canvas:not(.dw-points)")),
    charts: rect(root.querySelector('.dw-charts')),
    gallery: rect(root.querySelector('.dw-gallery')),
    scroll: rect(scroll),
    scrollTop: scroll.scrollTop,
    cells: [...root.querySelectorAll('.dw-cell')].map(rect),
    output: root.closest('.jp-OutputArea-output') ? root.closest('.jp-OutputArea-output').scrollTop : 0,
  };
}"""


@pytest.fixture(scope="module")
def layout_page(lab, browser, demo_analysis):
    context, page = run_in_lab(lab, browser, "layout.ipynb", CELLS, viewport=(WIDTH, HEIGHT))
    page.page.wait_for_selector(".dw-explorer[data-ready='1']", timeout=90_000)
    page.page.wait_for_function("() => document.querySelectorAll('.dw-cell').length > 10", timeout=30_000)
    yield page
    page.page.screenshot(path=str(lab.root / "layout.png"))
    context.close()


def show_cell_top(page) -> dict:
    """Scroll the Explorer's cell to the top of the notebook and read the geometry."""
    page.page.evaluate("() => document.querySelector('.dw-explorer').closest('.jp-Cell').scrollIntoView()")
    page.page.wait_for_timeout(400)
    return page.page.evaluate(GEOMETRY)


def inside(r: dict, width: float, height: float) -> bool:
    on_page = min(r["x"], r["y"]) >= 0 and r["right"] <= width and r["bottom"] <= height
    return on_page and r["width"] > 0 and r["height"] > 0


def first_row(cells: list[dict]) -> list[dict]:
    top = min(c["y"] for c in cells)
    return [c for c in cells if abs(c["y"] - top) < 1]


def test_scatter_and_a_row_of_thumbnails_are_in_view_together(layout_page):
    page = layout_page
    g = show_cell_top(page)
    assert g["layout"] == "wide", g
    assert g["output"] == 0 and g["scrollTop"] == 0
    assert inside(g["scatter"], WIDTH, HEIGHT), g["scatter"]
    row = first_row(g["cells"])
    assert len(row) >= 3, row
    # the gallery's first row: whole, in the viewport and inside the gallery's scroll box
    for cell in row:
        assert inside(cell, WIDTH, HEIGHT), cell
        assert cell["bottom"] <= g["scroll"]["bottom"] + 1 and cell["right"] <= g["scroll"]["right"] + 1, cell
    # two columns: the gallery beside the charts
    assert g["gallery"]["x"] >= g["charts"]["right"], g
    assert g["gallery"]["y"] < g["scatter"]["bottom"], g
    assert not page.errors, page.errors


def test_other_charts_sit_behind_buttons_and_stay_drawn(layout_page):
    page = layout_page
    tabs = page.page.eval_on_selector_all(".dw-tab", "els => els.map(e => e.dataset.target)")
    charts = page.page.eval_on_selector_all(".dw-chart", "els => els.map(e => e.dataset.chart)")
    assert charts[0] == "scatter" and tabs == charts[1:], (tabs, charts)
    # a button brings its chart into the area's view and marks itself
    page.page.locator(".dw-tab[data-target='confusion']").click()
    page.page.wait_for_timeout(300)
    area = page.page.locator(".dw-others").bounding_box()
    box = page.page.locator(".dw-others [data-chart='confusion']").bounding_box()
    assert area["y"] - 1 <= box["y"] <= area["y"] + 20, (area, box)
    assert page.page.get_attribute(".dw-tab[data-target='confusion']", "aria-selected") == "true"
    assert page.page.get_attribute(".dw-tab[data-target='projection']", "aria-selected") == "false"
    # every chart is drawn (a canvas of its size), whichever is scrolled to
    sizes = page.page.eval_on_selector_all(
        ".dw-chart canvas:not(.dw-points)", "cs => cs.map(c => c.getBoundingClientRect().width)"
    )
    assert len(sizes) == len(charts) and min(sizes) > 100, sizes


def test_a_narrow_window_stacks_one_column(layout_page):
    page = layout_page
    try:
        page.page.set_viewport_size({"width": 700, "height": HEIGHT})
        page.page.wait_for_function("() => document.querySelector('.dw-explorer').dataset.layout === 'narrow'")
        g = show_cell_top(page)
        assert g["width"] < 900, g
        # the gallery beneath the charts, at the same left edge, and no wider than the widget
        assert g["gallery"]["y"] >= g["charts"]["bottom"], g
        assert abs(g["gallery"]["x"] - g["charts"]["x"]) < 2, g
        assert g["gallery"]["width"] <= g["width"] + 1
        assert first_row(g["cells"]), "no thumbnails drawn"
    finally:
        page.page.set_viewport_size({"width": WIDTH, "height": HEIGHT})
    page.page.wait_for_function("() => document.querySelector('.dw-explorer').dataset.layout === 'wide'")
    assert not page.errors, page.errors
