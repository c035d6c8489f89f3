"""Static figures for the tutorials: image grids, a data map, matrices, the class graph (matplotlib, no widget code).

Each function returns a :class:`matplotlib.figure.Figure` made without pyplot (no global state, nothing shown twice);
:func:`show` renders one as a small PNG for a notebook's output, so an executed notebook shows its results on
GitHub without a kernel. Needs the optional extra ``pip install "difficulty-widget[tutorials]"`` (matplotlib).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

if TYPE_CHECKING:  # matplotlib is optional: imported when a figure is made
    from IPython.display import Image as DisplayImage
    from matplotlib.figure import Figure

WRONG = "#c0392b"  # a wrong prediction, a flipped label, an unexplained confusion
RIGHT = "#1e8449"
GREY = "#7f8c8d"


def _figure(width: float, height: float) -> Figure:
    try:
        from matplotlib.figure import Figure
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            'difficulty_widget.figures needs matplotlib: pip install "difficulty-widget[tutorials]"'
        ) from err
    return Figure(figsize=(width, height), layout="constrained")


def _names(values: Any, class_names: Sequence[str] | None) -> list[str]:
    if values is None:
        return []
    out = []
    for v in values:
        if class_names is not None and isinstance(v, (int, np.integer)) and not isinstance(v, bool):
            out.append(str(class_names[int(v)]))
        else:
            out.append(str(v))
    return out


def _pixels(image: Any) -> np.ndarray:
    if isinstance(image, (bytes, bytearray)):
        image = Image.open(io.BytesIO(image))
    arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[0] in (1, 3) and arr.shape[-1] not in (1, 3):  # channels first
        arr = np.moveaxis(arr, 0, -1)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    return arr


def image_grid(
    images: Sequence[Any],
    labels: Sequence[Any] | None = None,
    predictions: Sequence[Any] | None = None,
    class_names: Sequence[str] | None = None,
    captions: Sequence[str] | None = None,
    ncols: int = 8,
    cell: float = 1.15,
    title: str | None = None,
) -> Figure:
    """A grid of images, each captioned with its label name and, below, its prediction's name.

    ``images``: arrays (H, W), (H, W, 3) or (3, H, W), PIL images or PNG bytes (such as
    :func:`difficulty_widget.data.thumbnails` returns). ``labels`` and ``predictions``: class indices (named with
    ``class_names``) or names. A prediction that differs from the label is written in red after an arrow.
    ``captions``: one more line per image (a score, an id).
    """
    images = list(images)
    n = len(images)
    if n == 0:
        raise ValueError("image_grid needs at least one image")
    label_names, predicted = _names(labels, class_names), _names(predictions, class_names)
    for name, values in [("labels", label_names), ("predictions", predicted), ("captions", captions)]:
        if values and len(values) != n:
            raise ValueError(f"{name} has {len(values)} entries for {n} images")
    ncols = max(1, min(int(ncols), n))
    nrows = -(-n // ncols)
    lines = bool(label_names) + bool(predicted) + bool(captions)
    fig = _figure(ncols * cell, nrows * (cell + 0.2 * lines) + (0.3 if title else 0))
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    for i, ax in enumerate(axes):
        ax.set_axis_off()
        if i >= n:
            continue
        arr = _pixels(images[i])
        ax.imshow(arr, cmap="gray" if arr.ndim == 2 else None, vmin=0, vmax=255 if arr.dtype == np.uint8 else None)
        text, color = [], "black"
        if label_names:
            text.append(label_names[i])
        if predicted:
            wrong = bool(label_names) and predicted[i] != label_names[i]
            text.append(f"→ {predicted[i]}" if wrong else predicted[i] if not label_names else "✓")
            color = WRONG if wrong else color
        if captions:
            text.append(str(captions[i]))
        ax.set_title("\n".join(text), fontsize=7, color=color, pad=2)
    if title:
        fig.suptitle(title, fontsize=9)
    return fig


def data_map(
    variability: Any,
    confidence: Any,
    highlight: Any = None,
    highlight_label: str = "flipped label",
    other_label: str = "clean label",
    title: str | None = "Data map (Swayamdipta et al. 2020)",
) -> Figure:
    """Swayamdipta et al.'s data map: mean true-class probability over epochs against its spread.

    ``highlight``: a boolean mask drawn on top in red (for instance the labels known to be wrong).
    """
    x, y = np.asarray(variability, dtype=float), np.asarray(confidence, dtype=float)
    if x.shape != y.shape:
        raise ValueError(f"variability {x.shape} and confidence {y.shape} must have the same shape")
    mask = np.zeros(len(x), dtype=bool) if highlight is None else np.asarray(highlight, dtype=bool)
    if mask.shape != x.shape:
        raise ValueError(f"highlight has shape {mask.shape}, expected {x.shape}")
    fig = _figure(4.6, 3.6)
    ax = fig.subplots()
    ax.scatter(x[~mask], y[~mask], s=3, c=GREY, alpha=0.35, linewidths=0, label=f"{other_label} ({(~mask).sum()})")
    if mask.any():
        ax.scatter(x[mask], y[mask], s=6, c=WRONG, alpha=0.8, linewidths=0, label=f"{highlight_label} ({mask.sum()})")
    ax.set_xlabel("variability (std of the true-class probability over epochs)", fontsize=8)
    ax.set_ylabel("confidence (its mean)", fontsize=8)
    ax.text(0.99, 0.98, "easy to learn", transform=ax.transAxes, ha="right", va="top", fontsize=7, color=GREY)
    ax.text(0.99, 0.02, "hard to learn", transform=ax.transAxes, ha="right", va="bottom", fontsize=7, color=GREY)
    ax.text(0.99, 0.5, "ambiguous", transform=ax.transAxes, ha="right", va="center", fontsize=7, color=GREY)
    ax.legend(fontsize=7, loc="center left", markerscale=2, frameon=False)
    ax.tick_params(labelsize=7)
    if title:
        ax.set_title(title, fontsize=9)
    return fig


def matrices(
    tables: Mapping[str, Any],
    vmin: float | None = None,
    vmax: float | None = None,
    cmap: str = "viridis",
    fmt: str = "{:.2f}",
    cell: float = 0.55,
    title: str | None = None,
) -> Figure:
    """Square matrices side by side as annotated heatmaps on one colour scale (e.g. kappa on all / decisive images).

    ``tables``: a title for each matrix mapped to a pandas DataFrame (its index and columns name the rows and
    columns) or an array. The diagonal is left blank when it is all ones (a similarity with itself).
    """
    if not tables:
        raise ValueError("matrices needs at least one table")
    arrays, names = [], []
    for table in tables.values():
        arr = np.asarray(table, dtype=float)
        if arr.ndim != 2:
            raise ValueError(f"each table must be 2-D, got shape {arr.shape}")
        arrays.append(arr)
        index = getattr(table, "index", None)
        names.append([str(v) for v in index] if index is not None else [str(i) for i in range(len(arr))])
    finite = np.concatenate([a[np.isfinite(a)] for a in arrays]) if arrays else np.array([0.0])
    vmin = float(finite.min()) if vmin is None else vmin
    vmax = float(finite.max()) if vmax is None else vmax
    side = max(a.shape[0] for a in arrays)
    fig = _figure(len(arrays) * (side * cell + 1.0) + 0.6, side * cell + 1.2)
    axes = np.atleast_1d(fig.subplots(1, len(arrays), squeeze=False)).ravel()
    image = None
    for ax, (label, arr, rows) in zip(axes, zip(tables, arrays, names, strict=True), strict=True):
        shown = arr.copy()
        if arr.shape[0] == arr.shape[1] and np.allclose(np.diag(arr), 1):
            np.fill_diagonal(shown, np.nan)
        image = ax.imshow(shown, vmin=vmin, vmax=vmax, cmap=cmap)
        ax.set_xticks(range(arr.shape[1]), rows[: arr.shape[1]] if arr.shape[0] == arr.shape[1] else None)
        ax.set_yticks(range(arr.shape[0]), rows)
        ax.tick_params(labelsize=7)
        ax.tick_params(axis="x", rotation=45)
        for (i, j), v in np.ndenumerate(shown):
            if np.isfinite(v):
                r, g, b, _ = image.cmap(image.norm(v))
                dark = 0.299 * r + 0.587 * g + 0.114 * b < 0.5  # white text on a dark cell
                ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=6.5, color="white" if dark else "black")
        ax.set_title(label, fontsize=8)
    fig.colorbar(image, ax=list(axes), shrink=0.8).ax.tick_params(labelsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    return fig


def class_graph_figure(graph: Any, title: str | None = None, max_width: float = 6.0) -> Figure:
    """A :class:`difficulty_widget.semantics.ClassGraph` as a static drawing, as the Explorer's class graph shows it.

    Nodes at the graph's layout, coloured by its ``color`` column; grey lines: the similarity edges; confusion
    edges as lines whose width is the number of images confused (both ways), green when the two classes are among
    each other's top-k structural neighbours (the weights explain the error), red when they are not.
    """
    from matplotlib import colormaps

    nodes, edges = graph.nodes, graph.edges
    xy = nodes[["x", "y"]].to_numpy(dtype=float)
    fig = _figure(5.2, 4.4)
    ax = fig.subplots()
    for _, edge in edges[edges["kind"] == "similarity"].iterrows():
        a, b = int(edge["a"]), int(edge["b"])
        ax.plot(*xy[[a, b]].T, color="#bbbbbb", lw=1.2, ls="--", zorder=1)
    confusion = edges[edges["kind"] == "confusion"]
    if len(confusion):
        most = float(confusion["count"].max())
        for _, edge in confusion.iterrows():
            a, b = int(edge["a"]), int(edge["b"])
            width = 0.5 + max_width * float(edge["count"]) / most
            color = RIGHT if bool(edge["explained"]) else WRONG
            ax.plot(*xy[[a, b]].T, color=color, lw=width, alpha=0.55, zorder=2, solid_capstyle="round")
    groups = list(dict.fromkeys(nodes["color"]))
    palette = colormaps["tab10"]
    colors = [palette(groups.index(c) % 10) for c in nodes["color"]]
    ax.scatter(xy[:, 0], xy[:, 1], s=160, c=colors, edgecolors="white", linewidths=1, zorder=3)
    for (x, y), name in zip(xy, nodes["name"], strict=True):
        ax.annotate(str(name), (x, y), xytext=(0, 9), textcoords="offset points", ha="center", fontsize=7, zorder=4)
    ax.plot([], [], color=RIGHT, lw=3, alpha=0.55, label="confusion between structural neighbours")
    ax.plot([], [], color=WRONG, lw=3, alpha=0.55, label="confusion the weights do not explain")
    ax.plot([], [], color="#bbbbbb", lw=1.2, ls="--", label=f"{graph.edge_kind} edge")
    ax.legend(fontsize=6.5, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=2, frameon=False)
    ax.set_axis_off()
    ax.margins(0.12)
    if title:
        fig.suptitle(title, fontsize=9)
    return fig


def lines(
    series: Mapping[str, Any],
    x_labels: Sequence[str] | None = None,
    bands: Mapping[str, tuple[Any, Any]] | None = None,
    xlabel: str = "",
    ylabel: str = "",
    title: str | None = None,
) -> Figure:
    """Lines with optional shaded bands (e.g. the median and quartiles of a score per probe for two groups)."""
    fig = _figure(5.0, 3.0)
    ax = fig.subplots()
    for name, values in series.items():
        y = np.asarray(values, dtype=float)
        x = np.arange(len(y))
        (line,) = ax.plot(x, y, marker="o", ms=3, label=name)
        if bands and name in bands:
            lo, hi = (np.asarray(v, dtype=float) for v in bands[name])
            ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.2, linewidth=0)
    if x_labels is not None:
        ax.set_xticks(range(len(x_labels)), [str(v) for v in x_labels], rotation=45, ha="right")
    ax.tick_params(labelsize=7)
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.legend(fontsize=7, frameon=False)
    if title:
        ax.set_title(title, fontsize=9)
    return fig


def to_png(fig: Any, dpi: int = 80, colors: int = 128) -> bytes:
    """The figure as PNG bytes, at ``dpi`` and reduced to a palette of at most ``colors`` colours (a few tens of KB)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, facecolor="white")
    image = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    out = io.BytesIO()
    image.quantize(colors=colors, method=Image.Quantize.MEDIANCUT).save(out, format="png", optimize=True)
    return out.getvalue()


def show(fig: Any, dpi: int = 80) -> DisplayImage:
    """An ``IPython.display.Image`` of the figure (:func:`to_png`): the cell's output, kept in the executed notebook."""
    from IPython.display import Image as DisplayImage

    return DisplayImage(data=to_png(fig, dpi=dpi), format="png")
