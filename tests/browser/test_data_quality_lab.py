"""Data quality in a real JupyterLab: the header's pattern picker selects the "conflicting duplicates" pattern in the
kernel and the gallery shows each group of duplicates side by side (sorted by group, conflicting labels
highlighted); the instance view of a leaked test image names the training image it leaks from and shows it among
its duplicates, a click on which focuses it."""

from __future__ import annotations

from .conftest import run_in_lab
from .test_explorer_lab import gallery_ids

# Two test images made copies of training images with another label (two conflicting groups, interleaved in id
# order: sorted by id their members would not sit together), and one with the same label (a leak, no conflict).
CELLS = [
    "import numpy as np\nimport difficulty_widget as dw\nfrom difficulty_widget.extract import make_model\n"
    "data = dw.demo_data('digits')\n"
    "train, test = np.flatnonzero(data.split == 'train'), np.flatnonzero(data.split == 'test')\n"
    "for source, copy, shift in ((train[3], test[100], 1), (train[10], test[5], 2), (train[40], test[60], 0)):\n"
    "    data.images[copy], data.labels[copy] = data.images[source], (data.labels[source] + shift) % 10\n"
    "analysis = dw.analyze(make_model('cnn', 10, (8, 8), seed=0), data, probes=None, progress=False)\n"
    "df = analysis.df.set_index('id')\nleaked_copy, leaked_source = int(data.ids[test[60]]), int(data.ids[train[40]])",
    "explorer = dw.Explorer(analysis, images=data)\nexplorer",
]


def test_duplicates_in_the_explorer(lab, browser):
    context, page = run_in_lab(lab, browser, "data_quality.ipynb", CELLS)
    try:
        page.page.wait_for_selector(".dw-explorer[data-ready='1']", timeout=90_000)
        kernel = lab.kernel_client("data_quality.ipynb")
        options = page.page.eval_on_selector_all("select.dw-pattern option", "os => os.map(o => o.value)")
        assert {"leaked", "outliers", "conflicting duplicates"} <= set(options)

        want = kernel.json("sorted(df.index[df.conflicting_duplicate_labels.to_numpy(bool)].tolist())")
        assert len(want) >= 4  # the two planted groups at least
        page.page.select_option("select.dw-pattern", "conflicting duplicates")
        page.page.wait_for_function(f"() => document.querySelector('.dw-gallery').dataset.total === '{len(want)}'")
        page.page.wait_for_function("() => document.querySelector('select.dw-sort').value === 'duplicate_group'")
        assert kernel.json("explorer.selection.tolist()") == want
        shown = gallery_ids(page)
        assert sorted(shown) == want
        group = kernel.json(f"{{str(i): int(df.duplicate_group[i]) for i in {want}}}")
        runs = [group[str(i)] for k, i in enumerate(shown) if k == 0 or group[str(shown[k - 1])] != group[str(i)]]
        assert len(runs) == len(set(runs))  # each group one run: its members side by side
        cells = page.page.eval_on_selector_all(
            ".dw-cell",
            "cs => cs.map(c => [c.dataset.id, c.dataset.group, c.dataset.conflict, !!c.querySelector('.dw-conflict'),"
            " c.classList.contains('dw-group-a') || c.classList.contains('dw-group-b')])",
        )
        assert cells == [[str(i), str(group[str(i)]), "1", True, True] for i in shown]  # highlighted, shaded
        page.page.locator(".dw-gallery").screenshot(path=str(lab.root / "data_quality_gallery.png"))

        leaked = kernel.json("sorted(df.index[df.leaked.fillna(False).to_numpy(bool)].tolist())")
        page.page.select_option("select.dw-pattern", "leaked")
        page.page.wait_for_function(
            "want => JSON.stringify(Array.from(document.querySelectorAll('.dw-cell'), c => +c.dataset.id)"
            ".sort((a, b) => a - b)) === JSON.stringify(want)",
            arg=leaked,
        )
        assert kernel.json("explorer.selection.tolist()") == leaked

        # the leaked copy with the same label: its instance view names its source and shows it among its duplicates
        copy, source = kernel.json("[leaked_copy, leaked_source]")
        kernel.run(f"explorer.select([{copy}])")
        page.page.wait_for_function("() => document.querySelector('.dw-gallery').dataset.total === '1'")
        page.page.click(f".dw-cell[data-id='{copy}']")
        page.page.wait_for_selector(f".dw-detail[data-focus='{copy}'] .dw-leak")
        assert page.page.text_content(".dw-detail .dw-leak") == f"leaks from training id {source}"
        duplicate = f".dw-detail .dw-duplicate[data-id='{source}']"
        page.page.wait_for_selector(f"{duplicate} img[src^='blob:']")  # its thumbnail
        assert "dw-other-label" not in page.page.get_attribute(duplicate, "class")  # the same label
        page.page.click(duplicate)
        page.page.wait_for_selector(f".dw-detail[data-focus='{source}']")
        assert kernel.json("explorer.focus") == source
        assert not page.errors, page.errors
        kernel.close()
    finally:
        page.page.screenshot(path=str(lab.root / "data_quality.png"))
        context.close()
