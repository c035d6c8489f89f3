"""Columns named like ``a.b``, ``x[0]``, ``two words`` and ``it's`` in a real JupyterLab: every chart renders without
a Vega error in the page's console, brushing them selects the right rows in the kernel (drawn per instance and
binned in the browser), and a column without finite values draws an empty chart with its note."""

from __future__ import annotations

import re

import pytest

from .conftest import Page

CELLS = [
    "import numpy as np, pandas as pd\n"
    "import difficulty_widget as dw\n"
    "from difficulty_widget.measures import model_scores\n"
    "rng = np.random.default_rng(0)\n"
    "labels = np.arange(300) % 3\n"
    "df = pd.concat([pd.DataFrame({'id': np.arange(300), 'label': labels}),\n"
    "                model_scores(rng.normal(size=(300, 3)) * 3, labels)], axis=1)\n"
    "df = df.rename(columns={'loss': 'a.b', 'entropy': 'x[0]', 'confidence': 'two words', 'margin': \"it's\"})\n"
    "df['all nan'] = np.nan\n"
    "analysis = dw.Analysis(df, ['cat', 'dog', 'bird'])\n"
    "options = dict(x='two words', y=\"it's\", color='a.b', histograms=['a.b', 'x[0]', \"it's\", 'all nan'],\n"
    "               views=['scatter', 'confusion', 'histograms', 'gallery'])",
    "explorer = dw.Explorer(analysis, **options)\nexplorer",
    "dw.Explorer.aggregate_above = 10  # histograms binned in the browser\n"
    "binned = dw.Explorer(analysis, **options)\nbinned",
]
VEGA_WORDS = re.compile(r"vega|field|expression|signal|extent|access path|unrecognized|data set", re.I)


@pytest.fixture(scope="module")
def odd_page(lab, browser):
    console: list[str] = []
    lab.write_notebook("odd_names.ipynb", CELLS)  # as run_in_lab, with the console heard from the start
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = Page(context.new_page(), lab)
    page.page.on("console", lambda m: console.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None)
    page.open_lab("odd_names.ipynb")
    page.run_all()
    page.page.wait_for_function("() => document.querySelectorAll(\".dw-explorer[data-ready='1']\").length === 2",
                                timeout=90_000)  # fmt: skip
    kernel = lab.kernel_client("odd_names.ipynb")
    yield page, kernel, console
    kernel.close()
    page.page.screenshot(path=str(lab.root / "odd_names.png"), full_page=True)
    context.close()


def box_of(widget: int, chart: str) -> str:
    """A JS expression for one chart's box (chart ids may hold quotes: matched by value, not in a selector)."""
    return (
        f"[...document.querySelectorAll('.dw-explorer')[{widget}].querySelectorAll('.dw-chart')]"
        f".find(b => b.dataset.chart === {chart!r})"
    )


def drag_over(page, widget: int, chart: str, lo: float, hi: float) -> None:
    """Drag from x = lo to x = hi (data values), from near the top of a chart's plot to near its bottom."""
    page.page.evaluate(f"() => {box_of(widget, chart)}.scrollIntoView()")
    (x0, y0), (x1, y1) = (
        page.page.evaluate(
            """([expr, v, top]) => {
              const box = eval(expr), view = box.__view, canvas = box.querySelector('canvas').getBoundingClientRect();
              const [ox, oy] = view.origin(), pad = view.padding(), height = view.scale('y').range()[0];
              const y = top ? 3 : height - 3;
              return [canvas.x + pad.left + ox + view.scale('x')(v), canvas.y + pad.top + oy + y];
            }""",
            [box_of(widget, chart), v, top],
        )
        for v, top in ((lo, True), (hi, False))
    )
    page.page.mouse.move(x0, y0)
    page.page.mouse.down()
    page.page.mouse.move(x1, y1, steps=8)
    page.page.mouse.up()
    page.page.wait_for_timeout(700)


def test_every_chart_renders_without_vega_errors(odd_page):
    page, kernel, console = odd_page
    for widget in (0, 1):
        charts = page.page.evaluate(
            f"() => [...document.querySelectorAll('.dw-explorer')[{widget}].querySelectorAll('.dw-chart')]"
            ".map(b => [b.dataset.chart, !!b.querySelector('canvas'), !!b.__view])"
        )
        ids = [c[0] for c in charts]
        assert ids == ["scatter", "confusion", "hist_a.b", "hist_x[0]", "hist_it's", "hist_all nan"]
        assert all(has_canvas and has_view for _, has_canvas, has_view in charts)
    assert "hist_all nan" in kernel.json("[s['id'] for s in binned._specs if s['spec']['data']['name'] == 'empty']")
    assert not page.errors, page.errors
    assert not [m for m in console if VEGA_WORDS.search(m)], console


@pytest.mark.parametrize("widget", [0, 1], ids=["per instance", "binned"])
@pytest.mark.parametrize("column", ["a.b", "x[0]", "it's"])
def test_brushing_an_odd_column_selects_its_rows(odd_page, widget, column):
    page, kernel, console = odd_page
    name = ["explorer", "binned"][widget]
    lo, hi = kernel.json(f"analysis.df[{column!r}].quantile([0.3, 0.9]).tolist()")
    drag_over(page, widget, f"hist_{column}", lo, hi)
    param = kernel.json(f"[p['name'] for p in next(s for s in {name}._specs if s['id'] == 'hist_' + {column!r})"
                        "['spec']['params']][0]")  # fmt: skip
    extent = page.page.evaluate(f"() => {box_of(widget, 'hist_' + column)}.__view.signal({param!r})")
    (a, b) = sorted(next(iter(extent.values())))
    want = kernel.json(
        f"analysis.df.loc[analysis.df[{column!r}].astype('float32').astype(float).between({a!r}, {b!r}), 'id'].tolist()"
    )
    assert want and kernel.json(f"{name}.selection.tolist()") == sorted(want)
    assert not [m for m in console if VEGA_WORDS.search(m)], console


def test_brushing_the_scatter_of_odd_columns(odd_page):
    page, kernel, console = odd_page
    lo, hi = kernel.json("analysis.df['two words'].quantile([0.2, 0.8]).tolist()")
    drag_over(page, 0, "scatter", lo, hi)
    extent = page.page.evaluate(f"() => {box_of(0, 'scatter')}.__view.signal('scatter_brush')")
    assert set(extent) == {"two words", "it\\'s"}  # the fields as written, escaped
    (a, b), (c, d) = sorted(extent["two words"]), sorted(extent["it\\'s"])
    df = "analysis.df"
    want = kernel.json(
        f"{df}.loc[{df}['two words'].astype('float32').astype(float).between({a!r}, {b!r}) & "
        f"{df}[\"it's\"].astype('float32').astype(float).between({c!r}, {d!r}), 'id'].tolist()"
    )
    assert want and kernel.json("explorer.selection.tolist()") == sorted(want)
    assert not page.errors, page.errors
    assert not [m for m in console if VEGA_WORDS.search(m)], console
