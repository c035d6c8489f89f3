"""The Explorer: linked charts of an Analysis, an image gallery, and one selection shared with Python."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import anywidget
import numpy as np
import pandas as pd
import traitlets

from .._validation import lookup_positions
from ..analysis import Analysis
from ..data.image_source import ImageSource
from ..measures import registry
from . import charts
from .transport import bytes_to_positions, positions_to_bytes, table_columns, table_to_ipc

STATIC = Path(__file__).resolve().parent.parent / "static"
BUNDLE = STATIC / "explorer.js"
_MISSING_BUNDLE = """
export default { render({ el }) {
  el.textContent = "difficulty-widget: the front-end bundle (difficulty_widget/static/explorer.js) is missing. "
    + "Reinstall the package from source (pip install .) so that its build hook bundles js/.";
} };
"""

SelectCallback = Callable[[pd.DataFrame], Any]


class IdSelection(traitlets.TraitType):
    """Selected instance ids: None (nothing selected) or a sorted int64 array of ids of the analysis.

    Synced to the browser as uint32 row positions (binary), not as a JSON list.
    """

    default_value = None
    info_text = "None or a sequence of instance ids"

    def validate(self, obj: Explorer, value: Any) -> np.ndarray | None:
        return None if value is None else obj._check_ids(value)

    def set(self, obj: Explorer, value: Any) -> None:
        new = self._validate(obj, value)
        old = obj._trait_values.get(self.name, self.default_value)
        obj._trait_values[self.name] = new
        same = (old is None and new is None) or (
            old is not None and new is not None and old.shape == new.shape and bool(np.array_equal(old, new))
        )
        if not same:
            obj._notify_trait(self.name, old, new)


def _selection_to_json(ids: np.ndarray | None, widget: Explorer) -> memoryview | None:
    return None if ids is None else memoryview(positions_to_bytes(widget._positions_of(ids)))


def _selection_from_json(value: Any, widget: Explorer) -> np.ndarray | None:
    if value is None:
        return None
    positions = bytes_to_positions(value)
    if positions.size and positions.max() >= len(widget._ids):
        raise ValueError(f"the front-end sent row positions beyond the table ({positions.max()})")
    return widget._ids[positions]


class Explorer(anywidget.AnyWidget):
    """Linked scatter, histograms, confusion matrix and gallery over an :class:`Analysis`.

    Parameters
    ----------
    analysis : the per-instance table (or a DataFrame, turned into one with ``Analysis.from_dataframe``).
    images : optional images, row-aligned with the table: a uint8 array (N, H, W[, 3]), an ``ImageData``
        (matched by id), a torch dataset or a list of file paths. Without images the gallery shows cards.
    x, y : the scatter's axes (default: ``confidence`` and ``margin``).
    color : ``"correct"``, ``"label"``, ``"prediction"``, or any column.
    histograms : score columns to draw as brushable histograms (default: up to three).
    sort_by, caption_score : the gallery's order and the score in each caption (default: ``loss``).
    class_graph : a :class:`difficulty_widget.semantics.ClassGraph` to draw as a linked view: clicking a class
        selects its instances, clicking an edge the instances whose label and prediction are that pair (either
        way); a selection made elsewhere fades the classes it does not contain. Also :meth:`show_class_graph`.

    The selection: brushing a chart, clicking a confusion cell, or ``explorer.select(...)`` from Python sets
    ``explorer.selection`` (ids, or None); ``explorer.selected`` is those rows; ``on_select`` registers
    callbacks called with them.
    """

    _esm = BUNDLE if BUNDLE.exists() else _MISSING_BUNDLE
    #: Above this many instances the scatter's points are painted on a canvas beneath Vega (see charts.scatter).
    vega_points_max = 10_000
    #: Above this many instances histograms and the confusion matrix read counts binned in the browser, and
    #: Vega never holds one tuple per instance (see charts.histogram).
    aggregate_above = 50_000

    _table = traitlets.Bytes(b"").tag(sync=True)
    _specs = traitlets.List(traitlets.Dict()).tag(sync=True)
    _class_names = traitlets.List(traitlets.Unicode()).tag(sync=True)
    _score_columns = traitlets.List(traitlets.Dict()).tag(sync=True)

    selection = IdSelection().tag(
        sync=True, to_json=_selection_to_json, from_json=_selection_from_json, echo_update=False
    )
    focus = traitlets.Int(None, allow_none=True).tag(sync=True)
    x = traitlets.Unicode().tag(sync=True)
    y = traitlets.Unicode().tag(sync=True)
    color = traitlets.Unicode("correct", allow_none=True).tag(sync=True)
    histograms = traitlets.List(traitlets.Unicode()).tag(sync=True)
    sort_by = traitlets.Unicode("id").tag(sync=True)
    sort_descending = traitlets.Bool(True).tag(sync=True)
    caption_score = traitlets.Unicode("").tag(sync=True)
    has_images = traitlets.Bool(False).tag(sync=True)
    thumb_size = traitlets.Int(56).tag(sync=True)
    gallery_height = traitlets.Int(300).tag(sync=True)

    def __init__(
        self,
        analysis: Analysis | pd.DataFrame,
        images: Any = None,
        *,
        x: str | None = None,
        y: str | None = None,
        color: str | None = "correct",
        histograms: Iterable[str] | None = None,
        sort_by: str | None = None,
        caption_score: str | None = None,
        thumb_size: int = 56,
        gallery_height: int = 300,
        class_graph: Any = None,
    ) -> None:
        if isinstance(analysis, pd.DataFrame):
            analysis = Analysis.from_dataframe(analysis)
        if not isinstance(analysis, Analysis):
            raise ValueError(f"analysis must be an Analysis or a DataFrame, got {type(analysis).__name__}")
        self.analysis = analysis
        df = analysis.df
        self._ids = df["id"].to_numpy(dtype=np.int64)
        self._order = np.argsort(self._ids, kind="stable")
        self._callbacks: list[SelectCallback] = []
        self._class_graph = None if class_graph is None else self._check_graph(class_graph)
        self._images = None if images is None else ImageSource(images, len(df), ids=self._image_ids(images))
        columns = table_columns(df)
        numeric = [c for c in columns if c not in ("id", "label", "split", "prediction")]
        x = x or "confidence"
        y = y or "margin"
        if color == "correct" and "correct" not in df.columns:
            color = "label"
        score_columns = [c for c in numeric if c in df.columns and c != "correct"]
        caption = caption_score or ("loss" if "loss" in df.columns else (score_columns[0] if score_columns else ""))
        super().__init__(
            _table=table_to_ipc(df, columns),
            _class_names=list(analysis.class_names),
            _score_columns=[{"name": c, "title": registry.axis_title(c)} for c in score_columns],
            x=x,
            y=y,
            color=color,
            histograms=list(histograms) if histograms is not None else charts.default_histograms(df, [x, y]),
            sort_by=sort_by or caption or "id",
            caption_score=caption,
            has_images=self._images is not None,
            thumb_size=thumb_size,
            gallery_height=gallery_height,
        )
        self._specs = self._build_specs()
        self.observe(self._rebuild_specs, names=["x", "y", "color", "histograms"])
        self.observe(self._notify_callbacks, names="selection")
        self.on_msg(self._on_message)

    # ------------------------------------------------------------------ selection API
    def select(self, what: Any) -> None:
        """Select instances by ids, a boolean mask over the rows, or a pandas query string.

        ``None`` clears the selection. Callbacks registered with :meth:`on_select` run once, synchronously.
        """
        df = self.analysis.df
        if what is None:
            self.selection = None
        elif isinstance(what, str):
            try:
                ids = df.query(what)["id"].to_numpy()
            except Exception as err:
                raise ValueError(f"the query {what!r} failed on the analysis table: {err}") from None
            self.selection = ids
        else:
            values = np.asarray(what)
            if values.dtype == bool:
                if values.shape != (len(df),):
                    raise ValueError(f"a boolean mask must have shape ({len(df)},), one per row; got {values.shape}")
                self.selection = self._ids[values]
            else:
                self.selection = values

    def clear(self) -> None:
        """Select nothing (the gallery shows every instance again)."""
        self.selection = None

    @property
    def selected(self) -> pd.DataFrame:
        """The selected rows of the analysis table, in table order (empty when nothing is selected)."""
        df = self.analysis.df
        if self.selection is None:
            return df.iloc[:0]
        return df.iloc[np.sort(self._positions_of(self.selection))]

    def on_select(self, callback: SelectCallback, *, remove: bool = False) -> SelectCallback:
        """Call ``callback(selected_rows)`` whenever the selection changes; usable as a decorator."""
        if remove:
            self._callbacks.remove(callback)
        elif callback not in self._callbacks:
            self._callbacks.append(callback)
        return callback

    def show_class_graph(self, graph: Any) -> None:
        """Draw a :class:`difficulty_widget.semantics.ClassGraph` (or replace the one drawn); None removes it."""
        self._class_graph = None if graph is None else self._check_graph(graph)
        self._rebuild_specs({})

    def add_chart(self, chart: Any) -> None:
        """Add your own Altair chart built on :func:`difficulty_widget.widget.instances`; its selections link."""
        spec = charts.to_spec(chart)
        self._specs = [*self._specs, {"id": f"user{len(self._specs)}", "spec": spec}]

    # ------------------------------------------------------------------ internals
    def _image_ids(self, images: Any) -> np.ndarray | None:
        from ..data.images import ImageData

        return self._ids if isinstance(images, ImageData) else None

    def _check_graph(self, graph: Any) -> Any:
        from ..semantics.graph import ClassGraph

        if not isinstance(graph, ClassGraph):
            raise ValueError(
                "class_graph must be a ClassGraph (difficulty_widget.semantics.class_graph), "
                f"got {type(graph).__name__}"
            )
        n = len(self.analysis.class_names)
        if graph.n_classes != n:
            raise ValueError(f"class_graph has {graph.n_classes} classes but the analysis has {n}")
        return graph

    def _check_ids(self, value: Any) -> np.ndarray:
        ids = np.asarray(value)
        if ids.ndim != 1:
            raise ValueError(f"selection must be a 1-D sequence of instance ids, got shape {ids.shape}")
        if ids.size == 0:
            return np.empty(0, dtype=np.int64)
        if not np.issubdtype(ids.dtype, np.integer):
            raise ValueError(f"selection must hold integer instance ids, got dtype {ids.dtype}")
        ids = np.unique(ids.astype(np.int64))
        _, missing = lookup_positions(self._ids, ids, self._order)
        unknown = ids[missing]
        if unknown.size:
            raise ValueError(f"ids not in the analysis: {unknown[:10].tolist()} (ids are the table's 'id' column)")
        return ids

    def _positions_of(self, ids: np.ndarray) -> np.ndarray:
        return lookup_positions(self._ids, ids, self._order)[0]  # ids are validated when set

    def _build_specs(self) -> list[dict[str, Any]]:
        df = self.analysis.df
        specs = []
        if self.x in df.columns and self.y in df.columns:
            points = "canvas" if len(df) > self.vega_points_max else "vega"
            scatter = charts.scatter(df, self.x, self.y, self.color, points=points)
            specs.append({"id": "scatter", "spec": charts.to_spec(scatter)})
        elif self.x or self.y:
            raise ValueError(f"x={self.x!r} and y={self.y!r} must both be columns of the analysis")
        binned = len(df) > self.aggregate_above
        names = self.analysis.class_names
        if "prediction" in df.columns:
            source = "confusion_counts" if binned else charts.DATA_NAME
            spec = charts.to_spec(charts.confusion_matrix(names, binned=binned), source=source)
            specs.append({"id": "confusion", "spec": spec})
        if self._class_graph is not None:
            specs.append({"id": "class_graph", "spec": charts.class_graph(self._class_graph)})
        for column in self.histograms:
            if column not in df.columns:
                raise ValueError(f"histogram column {column!r} is not in the analysis")
            source = f"bins_{column}" if binned else charts.DATA_NAME
            spec = charts.to_spec(charts.histogram(df, column, binned=binned), source=source)
            specs.append({"id": f"hist_{column}", "spec": spec})
        return specs

    def _rebuild_specs(self, change: dict[str, Any]) -> None:
        user = [s for s in self._specs if s["id"].startswith("user")]
        self._specs = self._build_specs() + user

    def _notify_callbacks(self, change: dict[str, Any]) -> None:
        if not self._callbacks:
            return
        rows = self.selected
        for callback in list(self._callbacks):
            callback(rows)

    def _on_message(self, widget: Any, content: dict[str, Any], buffers: list[Any]) -> None:
        if not isinstance(content, dict) or content.get("type") != "thumbnails" or self._images is None:
            return
        positions = [int(p) for p in content.get("positions", []) if 0 <= int(p) < len(self._ids)]
        pngs = self._images.thumbnails(positions, self.thumb_size)
        self.send({"type": "thumbnails", "positions": positions}, buffers=pngs)
