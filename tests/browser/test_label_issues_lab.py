"""Label issues in a real JupyterLab: the header's pattern picker selects the "label issues" pattern in the kernel,
the gallery's captions show the suggested labels, the instance view spells the suggestion out, the per-class
panel counts the estimated errors, and clicking a label-issue edge of the class graph selects its images."""

from __future__ import annotations

from .conftest import run_in_lab
from .test_explorer_lab import chart_point

# The 5-epoch digits demo flags no training image (its labels are clean): five training rows are flagged here, each
# with the next class as its suggested label, as analyze() would write them.
CELLS = [
    "import numpy as np\nimport difficulty_widget as dw\nfrom difficulty_widget.data import load_digits\n"
    "analysis = dw.Analysis.load('demo/analysis.parquet')\ndf = analysis.df\n"
    "rows = df.index[np.flatnonzero(df['split'].astype(str) == 'train')[:5]]\n"
    "df.loc[rows, 'label_issue'] = True\n"
    "df.loc[rows, 'suggested_label'] = (df.loc[rows, 'label'] + 1) % 10\n"
    "flagged = sorted(df.loc[rows, 'id'].tolist())",
    # any layout will do for the edges: random class templates
    "from difficulty_widget import semantics\n"
    "structural = semantics.structural_similarity(np.random.default_rng(0).normal(size=(10, 8)))\n"
    "graph = semantics.class_graph(structural, labels=df.label, predictions=df.prediction,\n"
    "                              class_names=analysis.class_names)\n"
    "explorer = dw.Explorer(analysis, images=load_digits(), class_graph=graph)\nexplorer",
]


def test_label_issues_in_the_explorer(lab, browser, demo_analysis):
    context, page = run_in_lab(lab, browser, "label_issues.ipynb", CELLS)
    try:
        page.page.wait_for_selector(".dw-explorer[data-ready='1']", timeout=60_000)
        kernel = lab.kernel_client("label_issues.ipynb")
        flagged = kernel.json("flagged")
        assert len(flagged) == 5
        options = page.page.eval_on_selector_all("select.dw-pattern option", "os => os.map(o => o.value)")
        assert "label issues" in options

        page.page.select_option("select.dw-pattern", "label issues")
        page.page.wait_for_function("() => document.querySelector('.dw-gallery').dataset.total === '5'")
        assert kernel.json("explorer.selection.tolist()") == flagged

        captions = page.page.eval_on_selector_all(
            ".dw-cell", "cells => cells.map(c => [c.dataset.id, c.querySelector('.dw-suggested')?.textContent])"
        )
        want = kernel.json(
            "{str(i): f'suggested: {analysis.class_names[int(df.set_index(\"id\").suggested_label[i])]}' "
            "for i in flagged}"
        )
        assert dict(captions) == want
        title = page.page.get_attribute(f".dw-cell[data-id='{flagged[0]}']", "title")
        row = f"df.set_index('id').loc[{flagged[0]}]"
        text = kernel.json(
            "__import__('difficulty_widget.instance').instance.suggestion_text("
            f"{row}.label, {row}.suggested_label, analysis.class_names)"
        )
        assert text.startswith("label: ") and text in title

        page.page.click(f".dw-cell[data-id='{flagged[0]}']")
        page.page.wait_for_selector(f".dw-detail[data-focus='{flagged[0]}'] .dw-suggestion")
        assert page.page.text_content(".dw-detail .dw-suggestion") == text

        stats = page.page.evaluate(
            "() => document.querySelector(\"[data-chart='classes']\").__view.data('class_stats')"
        )
        assert sum(s["estimated_errors"] for s in stats) == 5
        assert sum(s["selected_estimated_errors"] for s in stats) == 5

        # the label-issue edge of the first flagged row's pair: a click selects the flagged rows of that pair
        spec = "next(s['spec'] for s in explorer._specs if s['id'] == 'class_graph')"
        edges = kernel.json(f"[v for d in {spec}['datasets'].values() for v in d if v.get('kind') == 'label_issue']")
        assert sum(e["count"] for e in edges) == 5
        edge = edges[0]
        both = f"df[['label', 'suggested_label']].isin([{edge['a']}, {edge['b']}]).all(axis=1)"
        pair = f"df.label_issue.fillna(False) & {both}"
        want = kernel.json(f"sorted(df.loc[{pair}, 'id'].tolist())")
        page.page.mouse.click(
            *chart_point(page, "class_graph", (edge["x"] + edge["x2"]) / 2, (edge["y"] + edge["y2"]) / 2)
        )
        page.page.wait_for_function(f"() => document.querySelector('.dw-gallery').dataset.total === '{len(want)}'")
        assert kernel.json("explorer.selection.tolist()") == want
        assert not page.errors, page.errors
        kernel.close()
    finally:
        page.page.screenshot(path=str(lab.root / "label_issues.png"))
        context.close()
