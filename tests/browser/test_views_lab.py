"""The Explorer's analysis views in a real JupyterLab: brushing the projection, clicking a difficulty-pattern cell
or a class, the instance view's neighbours, the subsets bar, and a panel in a second cell that stays linked."""

from __future__ import annotations

import os

import numpy as np
import pytest

from .conftest import run_in_lab, save_readme_picture
from .test_explorer_lab import chart_point, gallery_total

CELLS = [
    "import numpy as np\nimport difficulty_widget as dw\nfrom difficulty_widget.data import load_digits\n"
    "from difficulty_widget.projection import add_projection\n"
    "analysis = dw.Analysis.load('demo/analysis.parquet')\ndf = analysis.df\n"
    "digits = load_digits()\npixels = digits.images.reshape(len(df), -1).astype('float32')\n"
    "add_projection(analysis, pixels, probe='pixels', overwrite=True)\ndf = analysis.df",
    "explorer = dw.Explorer(analysis, images=digits, embeddings=pixels, histograms=['loss'])\nexplorer",
    "side = explorer.panel('patterns', 'classes')\nside",
]

ITEM_CENTRE = """([chart, field, value, nth]) => {
  // page coordinates of the centre of the nth mark item whose datum[field] == value, in one chart's Vega view
  const box = document.querySelectorAll(`[data-chart='${chart}']`)[nth];
  const view = box.__view, canvas = box.querySelector('canvas').getBoundingClientRect();
  const [ox, oy] = view.origin(), pad = view.padding();
  let found = null;
  const walk = (scene, x, y) => {
    for (const item of scene.items || []) {
      if (found) return;
      if (scene.marktype === 'group') walk_group(item, x, y);
      else if (item.datum && item.datum[field] === value && item.bounds) {
        found = [x + (item.bounds.x1 + item.bounds.x2) / 2, y + (item.bounds.y1 + item.bounds.y2) / 2];
      }
    }
  };
  const walk_group = (group, x, y) => {
    for (const child of group.items || []) walk(child, x + (group.x || 0), y + (group.y || 0));
  };
  walk(view.scenegraph().root, 0, 0);
  if (!found) return null;
  return [canvas.x + pad.left + ox + found[0], canvas.y + pad.top + oy + found[1]];
}"""


@pytest.fixture(scope="module")
def views_page(lab, browser, demo_analysis):
    context, page = run_in_lab(lab, browser, "views.ipynb", CELLS, viewport=(1500, 1300))
    ready = "() => document.querySelectorAll(\".dw-explorer[data-ready='1']\").length === 2"
    page.page.wait_for_function(ready, timeout=90_000)
    kernel = lab.kernel_client("views.ipynb")
    yield page, kernel
    page.page.screenshot(path=str(lab.root / "views.png"), full_page=True)
    # the README's picture of the Explorer: DW_SCREENSHOT=docs/explorer.png pytest tests/browser/test_views_lab.py
    target = os.environ.get("DW_SCREENSHOT")
    if target:
        kernel.run("explorer.reference = ''\nexplorer.select(df.id[~df.correct])\n"
                   "explorer.focus = int(df.id[df.loc[~df.correct, 'confidence'].idxmax()])")  # fmt: skip
        page.page.locator(".dw-subset-name").first.fill("")  # typing clears the subsets bar's last question
        save_readme_picture(page, target)
    kernel.close()
    context.close()


def view(chart: str) -> str:
    return f"document.querySelector(\"[data-chart='{chart}']\").__view"


def item_centre(page, chart: str, field: str, value, nth: int = 0) -> tuple[float, float]:
    page.page.locator(f"[data-chart='{chart}']").nth(nth).scroll_into_view_if_needed()
    point = page.page.evaluate(ITEM_CENTRE, [chart, field, value, nth])
    assert point is not None, f"no mark with {field} == {value!r} in {chart}"
    return tuple(point)


def mouse_drag(page, start: tuple[float, float], end: tuple[float, float], steps: int) -> None:
    """Press at ``start``, move to ``end`` in ``steps``, release, and let the selection settle."""
    page.page.mouse.move(*start)
    page.page.mouse.down()
    page.page.mouse.move(*end, steps=steps)
    page.page.mouse.up()
    page.page.wait_for_timeout(600)


def selection(kernel, name: str = "explorer") -> list[int]:
    return kernel.json(f"[] if {name}.selection is None else {name}.selection.tolist()")


def wait_for_selection(page, kernel, want: list[int], name: str = "explorer") -> None:
    for _ in range(40):
        if selection(kernel, name) == want:
            return
        page.page.wait_for_timeout(200)
    assert selection(kernel, name) == want


def test_every_view_renders(views_page):
    page, _ = views_page
    charts = page.page.eval_on_selector_all(".dw-chart", "els => els.map(e => e.dataset.chart)")
    assert charts[:7] == ["scatter", "projection", "confusion", "classes", "patterns", "flow", "hist_loss"]
    assert charts[7:] == ["classes", "patterns"]  # the panel in the second cell
    assert page.page.locator(".dw-gallery").count() == 2
    assert page.page.locator(".dw-bottom").nth(1).is_hidden()  # the panel shows no gallery
    assert not page.errors, page.errors


def test_brushing_the_projection_selects_the_points_inside(views_page):
    page, kernel = views_page
    (qx0, qx1), (qy0, qy1) = kernel.json("[df[c].quantile([0.3, 0.7]).tolist() for c in ('proj_x', 'proj_y')]")
    (x0, y0), (x1, y1) = chart_point(page, "projection", qx0, qy1), chart_point(page, "projection", qx1, qy0)
    mouse_drag(page, (x0, y0), (x1, y1), steps=10)
    extent = page.page.evaluate(f"() => {view('projection')}.signal('projection_brush')")
    (a, b), (c, d) = sorted(extent["proj_x"]), sorted(extent["proj_y"])
    inside = f"df.proj_x.astype(float).between({a!r}, {b!r}) & df.proj_y.astype(float).between({c!r}, {d!r})"
    want = kernel.json(f"df.loc[{inside}, 'id'].tolist()")
    assert want
    wait_for_selection(page, kernel, sorted(want))
    assert gallery_total(page) == len(want)


def test_clicking_a_pattern_cell_selects_its_instances(views_page):
    page, kernel = views_page
    kernel.run(
        "from difficulty_widget.patterns import cell_members\n"
        "xb, yb = cell_members(df, *explorer._patterns, bins=5)\n"
        "ny = int(yb.max()) + 1\ncells = np.where(xb >= 0, xb * ny + yb, -1)\n"
        "target = int(np.bincount(cells[cells >= 0]).argmax())"
    )
    cell = kernel.json("target")
    page.page.mouse.click(*item_centre(page, "patterns", "cell", cell))
    wait_for_selection(page, kernel, kernel.json("sorted(df.id[cells == target].tolist())"))


def test_clicking_a_class_in_the_per_class_panel_selects_it(views_page):
    page, kernel = views_page
    page.page.mouse.click(*item_centre(page, "classes", "label", 4))
    wait_for_selection(page, kernel, kernel.json("sorted(df.id[df.label == 4].tolist())"))


def test_focusing_a_thumbnail_shows_its_neighbours_and_they_focus(views_page):
    page, kernel = views_page
    kernel.run("explorer.select([7, 8, 9])")
    page.page.wait_for_function("() => document.querySelector('.dw-gallery').dataset.total === '3'")
    page.page.locator(".dw-cell[data-id='8']").first.click()
    detail = "document.querySelectorAll('.dw-detail')[0]"
    page.page.wait_for_function(f"() => {detail}.querySelectorAll('.dw-neighbour').length === 8")
    shown = page.page.evaluate(f"() => Array.from({detail}.querySelectorAll('.dw-neighbour'), e => +e.dataset.id)")
    d = kernel.json(
        "(lambda p: np.linalg.norm(pixels.astype(float) - pixels[p].astype(float), axis=1).tolist())"
        "(int(np.flatnonzero(df.id == 8)[0]))"
    )
    d = np.array(d)
    d[kernel.json("int(np.flatnonzero(df.id == 8)[0])")] = np.inf
    ids = kernel.json("df.id.tolist()")
    assert shown == [ids[p] for p in np.argsort(d, kind="stable")[:8]]
    assert page.page.locator(".dw-detail >> nth=0 >> .dw-score[data-name='loss']").count() == 1
    page.page.locator(f".dw-detail >> nth=0 >> .dw-neighbour[data-id='{shown[0]}']").click()
    page.page.wait_for_selector(f".dw-detail[data-focus='{shown[0]}']")
    assert kernel.json("explorer.focus") == shown[0]
    assert kernel.json("side.focus") == shown[0]  # linked


def test_a_panel_in_another_cell_stays_linked(views_page):
    page, kernel = views_page
    page.page.mouse.click(*item_centre(page, "classes", "label", 2, nth=1))  # the panel's own per-class chart
    want = kernel.json("sorted(df.id[df.label == 2].tolist())")
    wait_for_selection(page, kernel, want, name="side")
    wait_for_selection(page, kernel, want, name="explorer")
    page.page.wait_for_function(f"() => document.querySelector('.dw-gallery').dataset.total === '{len(want)}'")
    kernel.run("explorer.select([1, 2, 3])")
    page.page.wait_for_function(
        "() => document.querySelectorAll('.dw-explorer')[1].querySelector('.dw-count').textContent.startsWith('3 of')"
    )


def test_subsets_bar_saves_and_recalls_a_selection(views_page):
    page, kernel = views_page
    kernel.run("explorer.select(df.id[df.label == 1])")
    bar = page.page.locator(".dw-subsets").first
    bar.locator(".dw-subset-name").fill("ones")
    bar.locator(".dw-subset-save").click()
    page.page.wait_for_function("() => document.querySelector('.dw-subsets').dataset.subsets === '1'")
    assert kernel.json("list(explorer.subsets)") == ["ones"]
    kernel.run("explorer.clear()")
    bar.locator(".dw-subset-select").click()
    wait_for_selection(page, kernel, kernel.json("sorted(df.id[df.label == 1].tolist())"))
    bar.locator(".dw-subset-name").fill("ones")
    bar.locator(".dw-subset-save").click()  # the name is taken: the bar says so
    page.page.wait_for_function("() => document.querySelector('.dw-subset-message').textContent.includes('ones')")


def flow_stats(page, group: str) -> list[dict]:
    return page.page.evaluate(f"() => {view('flow')}.data('flow_stats').filter(t => t.group === {group!r})")


def test_flow_view_draws_the_selection_against_all_and_the_focused_instance(views_page):
    page, kernel = views_page
    kernel.run("explorer.select(df.id[df.label.isin([3, 8])])\nexplorer.focus = int(df.id[5])")
    page.page.wait_for_function(f"() => {view('flow')}.data('flow_stats').some(t => t.group === 'focused instance')")
    page.page.wait_for_timeout(500)
    kernel.run(
        "from difficulty_widget.measures import flow_summary\n"
        "table = analysis.tables['layer_agreement']\n"
        "mine = flow_summary(table, df.label.isin([3, 8]).to_numpy())\n"
        "everyone = flow_summary(table)"
    )
    for group, frame in (("selection", "mine"), ("reference", "everyone")):
        drawn = flow_stats(page, group)
        want = kernel.json(f"{frame}[['median', 'q25', 'q75']].values.tolist()")
        got = [[t["median"], t["q25"], t["q75"]] for t in drawn]
        assert np.allclose(got, want, atol=1e-6), (group, got, want)
    focused = [t["median"] for t in flow_stats(page, "focused instance")]
    assert np.allclose(focused, kernel.json("table.drop(columns='id').iloc[5].tolist()"), atol=1e-6)


def test_brushing_a_layer_in_the_flow_view_selects_by_its_agreement(views_page):
    page, kernel = views_page
    kernel.run("explorer.clear()")
    layers = kernel.json("len(analysis.tables['layer_agreement'].columns) - 1")
    layer = layers - 2  # the penultimate probe: agreement spreads there
    (x0, y0), (x1, y1) = chart_point(page, "flow", layer - 0.2, 0.95), chart_point(page, "flow", layer + 0.2, 0.3)
    mouse_drag(page, (x0, y0), (x1, y1), steps=8)
    extent = page.page.evaluate(f"() => {view('flow')}.signal('flow_brush')")
    low, high = sorted(extent["q25"])
    column = f"analysis.tables['layer_agreement'].iloc[:, {layer + 1}].astype('float32').astype(float)"
    want = kernel.json(f"sorted(df.id[{column}.between({low!r}, {high!r})].tolist())")
    assert want
    wait_for_selection(page, kernel, want)


def test_a_reference_subset_is_drawn_in_the_histograms_and_brushing_still_selects(views_page):
    page, kernel = views_page
    kernel.run("explorer.save_subset('wrong', df.id[~df.correct].values, overwrite=True)")
    page.page.locator(".dw-reference select").first.select_option("wrong")
    for _ in range(40):
        if kernel.json("explorer.reference") == "wrong":
            break
        page.page.wait_for_timeout(200)
    assert kernel.json("explorer.reference") == "wrong"
    page.page.wait_for_function(f"() => {view('hist_loss')} && {view('hist_loss')}.data('ref_loss').length > 0")
    steps = page.page.evaluate(f"() => {view('hist_loss')}.data('ref_loss').map(t => [t.start, t.count])")
    edges = kernel.json("explorer._specs[[s['id'] for s in explorer._specs].index('hist_loss')]['spec']"
                        "['usermeta']['dw_reference']['edges']")  # fmt: skip
    wrong = np.array(kernel.json("df.loss[~df.correct].astype('float32').astype(float).tolist()"))
    want, _ = np.histogram(wrong, bins=np.array(edges))
    assert [c for _, c in steps[:-1]] == want.tolist() and steps[-1][1] == want[-1]
    # the histogram is now two layers (bars and the reference line); a drag over it still selects by value
    lo, hi = kernel.json("df.loss.quantile([0.5, 0.99]).tolist()")
    (x0, y0), (x1, _) = chart_point(page, "hist_loss", lo, 0), chart_point(page, "hist_loss", hi, 0)
    mouse_drag(page, (x0, y0 - 20), (x1, y0 - 20), steps=8)
    a, b = sorted(page.page.evaluate(f"() => {view('hist_loss')}.signal('hist_loss')")["loss"])
    want_ids = kernel.json(f"sorted(df.id[df.loss.astype('float32').astype(float).between({a!r}, {b!r})].tolist())")
    assert want_ids
    wait_for_selection(page, kernel, want_ids)
