"""The Explorer in JupyterLab's light and dark themes: every text it shows, in the page and in its canvas charts,
has a WCAG 2.x contrast ratio of at least 4.5:1 on what lies beneath it, and a theme switched while the widget is
shown recolours it without running the cell again."""

from __future__ import annotations

import os

import pytest

from .conftest import run_in_lab, save_readme_picture

CELLS = [
    "import difficulty_widget as dw\nfrom difficulty_widget.data import load_digits",
    "analysis = dw.Analysis.load('demo/analysis.parquet')\nexplorer = dw.Explorer(analysis, images=load_digits())\n"
    "explorer",
]
LIGHT, DARK = "JupyterLab Light", "JupyterLab Dark"
MIN_RATIO = 4.5

# Every text of the Explorers in the page with its contrast ratio: DOM text (its colour over the backgrounds of its
# ancestors, down to the first opaque one) and the text items of the Vega charts' scenegraphs (their fill over the
# view's background, or the page's behind a transparent view). Colours are resolved through a 1x1 canvas, so any
# CSS colour syntax (rgba(), color-mix()'s color(srgb ...)) reads the same.
CONTRASTS = """() => {
  const probe = document.createElement('canvas');
  probe.width = probe.height = 1;
  const ctx = probe.getContext('2d', { willReadFrequently: true });
  const rgba = (css) => {
    ctx.clearRect(0, 0, 1, 1);
    ctx.fillStyle = 'rgba(0, 0, 0, 0)';
    ctx.fillStyle = css;
    ctx.fillRect(0, 0, 1, 1);
    const d = ctx.getImageData(0, 0, 1, 1).data;
    return [d[0], d[1], d[2], d[3] / 255];
  };
  const over = (top, under) => [0, 1, 2].map((i) => top[i] * top[3] + under[i] * (1 - top[3]));
  const lum = (c) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
  };
  const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
  const backdrop = (node) => {
    const layers = [];
    for (let n = node; n && n.nodeType === 1; n = n.parentElement) {
      const c = rgba(getComputedStyle(n).backgroundColor);
      if (c[3] > 0) layers.push(c);
      if (c[3] >= 0.999) break;
    }
    let base = [255, 255, 255];
    for (const c of layers.reverse()) base = over(c, base);
    return base;
  };
  const visible = (el) => {
    if (!el.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true })) return false;
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0;
  };
  const out = [];
  const add = (kind, where, text, colour, bg, opacity = 1) => {
    const c = rgba(colour);
    c[3] *= opacity;
    const fg = over(c, bg);
    out.push({ kind, where, text: String(text).slice(0, 40), colour, bg: bg.map(Math.round), ratio: ratio(fg, bg) });
  };
  for (const root of document.querySelectorAll('.dw-explorer')) {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let t = walker.nextNode(); t; t = walker.nextNode()) {
      const el = t.parentElement;
      if (!t.textContent.trim() || !el || el.closest('style, option, select, :disabled') || !visible(el)) continue;
      add('dom', el.tagName.toLowerCase() + '.' + el.className, t.textContent.trim(), getComputedStyle(el).color,
          backdrop(el));
    }
    for (const el of root.querySelectorAll('select')) {
      if (!visible(el) || el.disabled || !el.selectedOptions.length) continue;
      add('dom', 'select.' + el.className, el.selectedOptions[0].text, getComputedStyle(el).color, backdrop(el));
    }
    for (const el of root.querySelectorAll('input[placeholder]')) {
      if (!visible(el) || el.value) continue;
      add('dom', 'placeholder.' + el.className, el.placeholder, getComputedStyle(el, '::placeholder').color,
          backdrop(el));
    }
    for (const box of root.querySelectorAll('.dw-chart')) {
      const view = box.__view;
      if (!view || !visible(box)) continue;
      const page = backdrop(box);
      const own = view.background() ? rgba(view.background()) : [0, 0, 0, 0];
      const bg = over(own, page);
      const visit = (mark, overCells) => {
        if (mark.marktype === 'text') {
          // a text mark drawn on rect cells (the confusion counts) reads against the cells, not the view: left out
          const onCells = mark.role === 'mark' && overCells;
          for (const item of onCells ? [] : mark.items || []) {
            const text = Array.isArray(item.text) ? item.text.join(' ') : item.text;
            const opacity = (item.opacity ?? 1) * (item.fillOpacity ?? 1);
            if (text === undefined || text === null || !String(text).trim() || opacity === 0) continue;
            add('chart', box.dataset.chart + ':' + mark.role, text, item.fill ?? '#000', bg, opacity);
          }
        }
        for (const item of mark.items || []) {
          const children = item.items || [];
          const cells = children.some((c) => c.marktype === 'rect' && c.role === 'mark');
          for (const child of children) visit(child, cells);
        }
      };
      visit(view.scenegraph().root, false);
    }
  }
  return out;
}"""


def contrasts(page) -> list[dict]:
    return page.page.evaluate(CONTRASTS)


def assert_readable(page, theme: str) -> None:
    found = contrasts(page)
    dom = [r for r in found if r["kind"] == "dom"]
    chart = [r for r in found if r["kind"] == "chart"]
    # the header's count, the gallery's labels and captions, and each chart's guides are all among them
    assert any("selected" in r["text"] or "none selected" in r["text"] for r in dom), dom[:5]
    assert any(r["text"].startswith("sort by") for r in dom), dom[:5]
    assert any("dw-caption" in r["where"] for r in dom)
    roles = {r["where"].split(":")[1] for r in chart}
    assert {"axis-label", "axis-title", "title-text"} <= roles, roles
    assert any(r["where"].startswith("scatter:legend") for r in chart), roles
    poor = [r for r in found if r["ratio"] < MIN_RATIO]
    assert not poor, f"{len(poor)} of {len(found)} texts below {MIN_RATIO}:1 in {theme}: {poor[:8]}"


def change_theme(page, theme: str) -> None:
    light = "true" if theme == LIGHT else "false"
    page.page.evaluate("t => window.jupyterapp.commands.execute('apputils:change-theme', { theme: t })", theme)
    page.page.wait_for_function(f"() => document.body.dataset.jpThemeLight === '{light}'", timeout=30_000)
    page.page.wait_for_function(
        "t => document.body.dataset.jpThemeName === t && "
        "[...document.querySelectorAll('.dw-explorer')].every(e => e.dataset.theme === (t === 'JupyterLab Dark' "
        "? 'dark' : 'light') && e.dataset.ready === '1')",
        arg=theme,
        timeout=30_000,
    )
    page.page.wait_for_timeout(800)  # the charts' last runs


@pytest.fixture(scope="module")
def theme_page(lab, browser, demo_analysis):
    context, page = run_in_lab(lab, browser, "theme.ipynb", CELLS, viewport=(1500, 1000))
    page.page.wait_for_selector(".dw-explorer[data-ready='1']", timeout=90_000)
    page.page.wait_for_function("() => document.querySelectorAll('.dw-cell').length > 10", timeout=30_000)
    yield page
    # the theme is a setting of the lab that every later test shares: back to light
    try:
        change_theme(page, LIGHT)
    finally:
        page.page.screenshot(path=str(lab.root / "theme.png"))
        context.close()


def kernel_runs(page) -> int:
    return page.page.evaluate(
        "() => window.jupyterapp.shell.currentWidget.content.widgets[1].model.executionCount || 0"
    )


def test_light_theme_text_reads(theme_page):
    page = theme_page
    assert page.page.evaluate("() => document.body.dataset.jpThemeLight") == "true"
    assert_readable(page, LIGHT)
    # drawn once, in the page's theme from the start
    assert page.page.get_attribute(".dw-explorer", "data-embeds") == "1"
    assert not page.errors, page.errors


def test_switching_to_dark_recolours_the_shown_widget(theme_page, lab):
    page = theme_page
    runs = kernel_runs(page)
    embeds = int(page.page.get_attribute(".dw-explorer", "data-embeds"))
    views = page.page.evaluate("() => document.querySelector(\"[data-chart='scatter']\").__view.background()")
    change_theme(page, DARK)
    # the same cell output, not a new run: the cell's execution count is unchanged and the charts were re-drawn
    assert kernel_runs(page) == runs
    assert page.page.locator(".dw-explorer").count() == 1
    assert int(page.page.get_attribute(".dw-explorer", "data-embeds")) > embeds
    after = page.page.evaluate("() => document.querySelector(\"[data-chart='scatter']\").__view.background()")
    assert after != views
    assert_readable(page, DARK)
    root_bg = page.page.evaluate("() => getComputedStyle(document.querySelector('.dw-explorer')).backgroundColor")
    assert root_bg not in ("rgb(255, 255, 255)", "rgba(0, 0, 0, 0)"), root_bg
    assert not page.errors, page.errors
    # the README's dark picture: DW_SCREENSHOT_DARK=docs/explorer-dark.png pytest tests/browser/test_theme_lab.py
    target = os.environ.get("DW_SCREENSHOT_DARK")
    if target:
        kernel = lab.kernel_client("theme.ipynb")
        try:
            kernel.run("df = analysis.df\nexplorer.select(df.id[~df.correct])\n"
                       "explorer.focus = int(df.id[df.loc[~df.correct, 'confidence'].idxmax()])")  # fmt: skip
        finally:
            kernel.close()
        save_readme_picture(page, target)
        page.page.set_viewport_size({"width": 1500, "height": 1000})


# the points the scatter draws as selected (opaque), read from its scenegraph: what the person sees, not the flags
SELECTED_IN_SCATTER = """() => {
  let n = 0;
  const walk = (node) => {
    for (const item of node.items || []) {
      if (node.marktype === 'symbol' && node.role === 'mark' && (item.opacity ?? 1) > 0.5) n += 1;
      if (item.items) walk(item);
    }
  };
  walk(document.querySelector("[data-chart='scatter']").__view.scenegraph().root);
  return n;
}"""


def test_switching_back_to_light_keeps_the_selection(theme_page, lab):
    page = theme_page
    if page.page.evaluate("() => document.body.dataset.jpThemeLight") != "false":
        change_theme(page, DARK)
    kernel = lab.kernel_client("theme.ipynb")
    try:
        kernel.run("explorer.select(analysis.df.id[:25])")
    finally:
        kernel.close()
    page.page.wait_for_function("() => document.querySelector('.dw-count').textContent.startsWith('25 of')")
    page.page.wait_for_function(f"() => ({SELECTED_IN_SCATTER})() === 25", timeout=10_000)
    change_theme(page, LIGHT)
    assert_readable(page, LIGHT)
    # the re-drawn charts show the selection made before the switch
    assert page.page.locator(".dw-count").text_content().startswith("25 of")
    assert page.page.evaluate(SELECTED_IN_SCATTER) == 25
    assert page.page.get_attribute(".dw-gallery", "data-total") == "25"
    assert not page.errors, page.errors


def test_a_widget_drawn_in_the_dark_theme_reads_from_its_first_draw(theme_page):
    page = theme_page
    change_theme(page, DARK)
    page.run_all()  # a new Explorer, created while the theme is dark
    page.page.wait_for_function(
        "() => { const e = document.querySelectorAll('.dw-explorer'); return e.length === 1 && "
        "e[0].dataset.ready === '1' && e[0].dataset.embeds === '1'; }",
        timeout=90_000,
    )
    page.page.wait_for_function("() => document.querySelectorAll('.dw-cell').length > 10", timeout=30_000)
    page.page.wait_for_timeout(800)
    assert page.page.get_attribute(".dw-explorer", "data-theme") == "dark"
    assert_readable(page, DARK)
    assert not page.errors, page.errors
