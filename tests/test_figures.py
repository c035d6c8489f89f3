"""The tutorials' static figures: each draws from small inputs and renders as a small PNG."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from PIL import Image

pytest.importorskip("matplotlib")

from difficulty_widget import figures
from difficulty_widget.data import thumbnails

NAMES = ["T-shirt/top", "Trouser", "Pullover"]


def _png_size(fig) -> tuple[int, int, int]:
    png = figures.to_png(fig)
    image = Image.open(io.BytesIO(png))
    return image.width, image.height, len(png)


def test_image_grid_names_labels_and_predictions_and_marks_errors():
    images = np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    fig = figures.image_grid(images, labels=[0, 1, 2, 0, 1], predictions=[0, 2, 2, 1, 1], class_names=NAMES, ncols=3)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles[0] == "T-shirt/top\n✓" and titles[1] == "Trouser\n→ Pullover"
    wrong = [ax for ax in fig.axes if "→" in ax.get_title()]
    assert len(wrong) == 2 and all(ax.title.get_color() == figures.WRONG for ax in wrong)
    assert len(fig.axes) == 6  # 2 rows of 3, the last one blank
    width, height, size = _png_size(fig)
    assert width > height and size < 60_000


def test_image_grid_reads_png_thumbnails_and_rgb_channels_first():
    pngs = thumbnails(np.zeros((2, 8, 8), dtype=np.uint8), [0, 1], size=16)
    assert len(figures.image_grid(list(pngs.values()), captions=["a", "b"]).axes) == 2
    chw = np.zeros((1, 3, 8, 8), dtype=np.uint8)
    assert figures.image_grid(chw, labels=["cat"]).axes[0].images[0].get_array().shape == (8, 8, 3)
    with pytest.raises(ValueError, match="labels has 1 entries for 2 images"):
        figures.image_grid(np.zeros((2, 4, 4)), labels=[0], class_names=NAMES)


def test_data_map_draws_the_highlighted_points_on_top():
    rng = np.random.default_rng(0)
    flipped = rng.random(200) < 0.1
    fig = figures.data_map(rng.random(200) * 0.3, rng.random(200), highlight=flipped)
    ax = fig.axes[0]
    assert [len(c.get_offsets()) for c in ax.collections] == [(~flipped).sum(), flipped.sum()]
    assert _png_size(fig)[2] < 60_000
    with pytest.raises(ValueError, match="highlight"):
        figures.data_map([0.1, 0.2], [0.5, 0.6], highlight=[True])


def test_matrices_share_one_scale_and_blank_a_unit_diagonal():
    kappa = pd.DataFrame([[1, 0.5], [0.5, 1]], index=["a", "b"], columns=["a", "b"])
    fig = figures.matrices({"all": kappa, "decisive": kappa * 0.1}, vmin=-0.1, vmax=1)
    heatmaps = [ax for ax in fig.axes if ax.images]
    assert len(heatmaps) == 2
    assert all(ax.images[0].get_clim() == (-0.1, 1) for ax in heatmaps)
    assert np.ma.is_masked(heatmaps[0].images[0].get_array()[0, 0])
    assert sorted(t.get_text() for t in heatmaps[0].texts) == ["0.50", "0.50"]


def test_class_graph_figure_draws_every_class_and_edge():
    from difficulty_widget.semantics import class_graph

    sim = np.array([[1, 0.9, 0.1], [0.9, 1, 0.2], [0.1, 0.2, 1]])
    graph = class_graph(
        sim, labels=[0, 0, 1, 2, 2], predictions=[1, 0, 0, 0, 2], class_names=NAMES, groups=[0, 0, 1], k=1
    )
    fig = figures.class_graph_figure(graph)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.texts] == NAMES
    drawn = [line for line in ax.lines if len(line.get_xdata()) == 2]
    assert len(drawn) == len(graph.edges)
    assert _png_size(fig)[2] < 80_000


def test_lines_with_bands():
    fig = figures.lines(
        {"a": [0.1, 0.5, 0.9]}, x_labels=["in", "mid", "out"], bands={"a": ([0, 0.4, 0.8], [0.2, 0.6, 1])}
    )
    assert len(fig.axes[0].lines) == 1 and len(fig.axes[0].collections) == 1


def test_show_returns_a_displayable_png():
    shown = figures.show(figures.lines({"a": [1, 2]}))
    assert shown.format == "png" and shown.data[:8] == b"\x89PNG\r\n\x1a\n"
