"""A user's own Altair chart in a real JupyterLab: built on ``difficulty_widget.widget.instances()`` (the name the
README gives) with an interval brush and a point selection, added with ``explorer.add_chart``. Brushing it with the
mouse selects exactly the rows inside the brush, in the kernel and in the gallery; clicking a point selects its
row. On the same page, the subsets bar asks before it replaces a saved subset."""

from __future__ import annotations

import numpy as np
import pytest

from .conftest import run_in_lab
from .test_explorer_lab import chart_point, gallery_ids, gallery_total

N = 400
CELLS = [
    "import altair as alt, numpy as np, pandas as pd\nimport difficulty_widget as dw\n"
    "from difficulty_widget.measures import model_scores\nfrom difficulty_widget.widget import instances\n"
    f"rng = np.random.default_rng(0)\nlabels = rng.integers(0, 4, {N})\n"
    f"scores = model_scores(rng.normal(size=({N}, 4)) * 2, labels)\n"
    f"df = pd.concat([pd.DataFrame({{'id': np.arange(1000, 1000 + {N}), 'label': labels}}), scores], axis=1)\n"
    "analysis = dw.Analysis(df, ['ant', 'bee', 'cat', 'dog'])",
    "explorer = dw.Explorer(analysis, views=['scatter', 'gallery'])\n"
    "mine = (alt.Chart(instances(), width=320, height=260).mark_circle(size=30)\n"
    "        .encode(x=alt.X('confidence:Q', scale=alt.Scale(zero=False)), y='loss:Q', tooltip=['id:Q'],\n"
    "                opacity=alt.condition('datum._sel == 1', alt.value(0.9), alt.value(0.1)))\n"
    "        .add_params(alt.selection_interval(name='my_brush'),\n"
    "                    alt.selection_point(name='my_pick', fields=['id'])))\n"
    "explorer.add_chart(mine)\nexplorer",
]


@pytest.fixture(scope="module")
def user_page(lab, browser):
    context, page = run_in_lab(lab, browser, "user_chart.ipynb", CELLS, viewport=(1400, 1100))
    page.page.wait_for_selector(".dw-explorer[data-ready='1']", timeout=90_000)
    kernel = lab.kernel_client("user_chart.ipynb")
    chart = kernel.json("explorer._specs[-1]['id']")
    yield page, kernel, chart
    page.page.screenshot(path=str(lab.root / "user_chart.png"))
    kernel.close()
    context.close()


def selection(kernel) -> list[int]:
    return kernel.json("[] if explorer.selection is None else explorer.selection.tolist()")


def wait_for_selection(page, kernel, want: list[int]) -> None:
    for _ in range(40):
        if selection(kernel) == want:
            return
        page.page.wait_for_timeout(200)
    assert selection(kernel) == want


def header_count(page) -> str:
    return page.page.locator(".dw-count").inner_text()


def test_the_users_chart_renders_with_its_params(user_page):
    page, _, chart = user_page
    assert chart.startswith("user")
    assert page.page.locator(f"[data-chart='{chart}'] canvas").count() == 1
    params = page.page.evaluate(
        f"() => {{ const v = document.querySelector(\"[data-chart='{chart}']\").__view;"
        " return [typeof v.signal('my_brush'), typeof v.signal('my_pick')]; }"
    )
    assert params == ["object", "object"]
    assert not page.errors, page.errors


def test_a_mouse_brush_on_the_users_chart_selects_the_rows_inside_it(user_page):
    brush_and_check(*user_page, quantiles=(0.2, 0.8))


def brush_and_check(page, kernel, chart: str, quantiles: tuple[float, float]) -> None:
    """Drag over the user's chart between two quantiles of each axis; the rows inside the brush get selected."""
    (c0, c1), (l0, l1) = kernel.json(f"[df[c].quantile({list(quantiles)}).tolist() for c in ('confidence', 'loss')]")
    (x0, y0), (x1, y1) = chart_point(page, chart, c0, l1), chart_point(page, chart, c1, l0)  # top left, bottom right
    page.page.mouse.move(x0, y0)
    page.page.mouse.down()
    page.page.mouse.move(x1, y1, steps=12)
    page.page.mouse.up()
    page.page.wait_for_timeout(600)
    extent = page.page.evaluate(f"() => document.querySelector(\"[data-chart='{chart}']\").__view.signal('my_brush')")
    (a, b), (c, d) = sorted(extent["confidence"]), sorted(extent["loss"])
    assert a == pytest.approx(c0, abs=0.01) and d == pytest.approx(l1, rel=0.05)  # the brush is where we dragged
    as_sent = "df[{!r}].astype('float32').astype(float)"
    inside = f"{as_sent.format('confidence')}.between({a!r}, {b!r}) & {as_sent.format('loss')}.between({c!r}, {d!r})"
    want = kernel.json(f"sorted(df.loc[{inside}, 'id'].tolist())")
    assert 10 < len(want) < N - 10  # some rows, not all
    wait_for_selection(page, kernel, want)
    assert gallery_total(page) == len(want)
    assert set(gallery_ids(page)) <= set(want)
    assert header_count(page) == f"{len(want)} of {N} selected"


def test_clicking_a_point_of_the_users_chart_selects_its_row(user_page):
    page, kernel, chart = user_page
    # the point farthest from its nearest neighbour (in the chart's proportions): nothing else under the mouse
    target = kernel.json(
        "(lambda xy: int(df.id.iloc[int(np.argmax(np.sort(np.linalg.norm(xy[:, None] - xy[None], axis=2), axis=1)"
        "[:, 1]))]))(np.stack([(df[c] - df[c].min()) / np.ptp(df[c]) for c in ('confidence', 'loss')], axis=1))"
    )
    confidence, loss = kernel.json(f"df.loc[df.id == {target}, ['confidence', 'loss']].iloc[0].tolist()")
    x, y = chart_point(page, chart, confidence, loss)
    page.page.mouse.click(x, y)
    wait_for_selection(page, kernel, [target])
    page.page.wait_for_function("() => document.querySelector('.dw-gallery').dataset.total === '1'")
    assert gallery_ids(page) == [target]
    assert header_count(page) == f"1 of {N} selected"
    value = page.page.evaluate(f"() => document.querySelector(\"[data-chart='{chart}']\").__view.signal('my_pick')")
    assert value.get("id") == [target]
    assert np.isfinite(confidence) and not page.errors, page.errors


def test_brushing_after_a_click_selects_the_brushed_rows(user_page):
    """After a click picked a point, a drag ends with a click on the same chart (here on empty space), which empties
    the point selection: the brushed rows must stay selected."""
    page, kernel, chart = user_page
    brush_and_check(page, kernel, chart, quantiles=(0.3, 0.7))


def test_the_subsets_bar_asks_before_replacing_a_saved_subset(user_page):
    page, kernel, _ = user_page
    bar = page.page.locator(".dw-subsets").first
    message = bar.locator(".dw-subset-message")
    kernel.run("explorer.select(df.id[df.label == 0])")
    bar.locator(".dw-subset-name").fill("ants")
    bar.locator(".dw-subset-save").click()
    page.page.wait_for_function("() => document.querySelector('.dw-subsets').dataset.subsets === '1'")
    ants = kernel.json("sorted(df.id[df.label == 0].tolist())")
    assert kernel.json("explorer.subsets['ants'].tolist()") == ants
    kernel.run("explorer.select(df.id[df.label == 1])")
    page.page.wait_for_function("() => document.querySelector('.dw-count').textContent.includes(' of ')")
    bar.locator(".dw-subset-name").fill("ants")
    bar.locator(".dw-subset-save").click()  # taken: the bar asks, nothing is sent
    assert message.inner_text() == 'A subset named "ants" exists: click Save again to replace it.'
    assert bar.locator(".dw-subset-save").inner_text() == "Replace subset"
    page.page.wait_for_timeout(300)
    assert kernel.json("explorer.subsets['ants'].tolist()") == ants
    bar.locator(".dw-subset-save").click()  # the second click replaces it
    bees = kernel.json("sorted(df.id[df.label == 1].tolist())")
    for _ in range(40):
        if kernel.json("explorer.subsets['ants'].tolist()") == bees:
            break
        page.page.wait_for_timeout(200)
    assert kernel.json("explorer.subsets['ants'].tolist()") == bees
    assert bar.locator(".dw-subset-save").inner_text() == "Save selection" and message.inner_text() == ""
    assert "overwrite" not in page.page.locator(".dw-explorer").first.inner_text()
    bar.locator(".dw-subset-name").fill("ants")
    bar.locator(".dw-subset-save").click()  # asks again
    assert message.inner_text().startswith('A subset named "ants"')
    bar.locator(".dw-subset-name").fill("wasps")  # another name: the question no longer applies
    assert message.inner_text() == "" and bar.locator(".dw-subset-save").inner_text() == "Save selection"
