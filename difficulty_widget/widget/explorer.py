"""The Explorer: linked charts of an Analysis, an image gallery, and one selection shared with Python."""

from __future__ import annotations

import json
import logging
import numbers
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import anywidget
import numpy as np
import pandas as pd
import traitlets

from .. import patterns as pattern_lib
from .. import scales
from .._validation import lookup_positions, to_numpy
from ..analysis import Analysis
from ..data.image_source import ImageSource
from ..instance import duplicates_of, leak_text, nearest_neighbours, score_percentiles, suggestion_text
from ..measures import registry
from ..measures.label_issues import LABEL_ISSUE_COLUMNS, LabelIssueSummary, label_issue_summary
from ..subsets import Subsets, relabelling_table
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
logger = logging.getLogger(__name__)
#: The bounds of ``thumb_size`` and ``gallery_height`` (pixels).
THUMB_SIZES = (4, 512)
GALLERY_HEIGHTS = (40, 20_000)


class ExplorerValueError(traitlets.TraitError, ValueError):
    """A value an Explorer trait (or argument) cannot take; the trait keeps the value it had."""


class ExplorerTypeError(traitlets.TraitError, TypeError):
    """A value of the wrong type for an Explorer trait (or argument); the trait keeps the value it had."""


class _Checked:
    """A trait whose type errors are :class:`ExplorerTypeError` (a TypeError, and a TraitError so that traitlets
    rolls back a rejected value), with a message naming the trait."""

    what = "a value"

    def error(self, obj: Any, value: Any, error: Exception | None = None, info: str | None = None) -> None:
        raise ExplorerTypeError(f"{self.name} must be {self.what}, got {type(value).__name__} {value!r}")


class _Int(_Checked, traitlets.Int):
    """An int trait that takes any integer (numpy's too, not bools) and says which trait refused a value."""

    what = "an integer"

    def validate(self, obj: Any, value: Any) -> int | None:
        if value is None and self.allow_none:
            return None
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            self.error(obj, value)
        return int(value)


class _Text(_Checked, traitlets.Unicode):
    what = "a string"


class _Bool(_Checked, traitlets.Bool):
    """A bool trait that takes True / False (numpy's too), never 0.5, 1 or the string "no"."""

    what = "True or False"

    def validate(self, obj: Any, value: Any) -> bool:
        if not isinstance(value, (bool, np.bool_)):
            self.error(obj, value)
        return bool(value)


class _Names(_Checked, traitlets.List):
    """A list of names; a single string is taken as a one-element list (``histograms="loss"``: ``["loss"]``)."""

    what = "a list of names (strings)"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(traitlets.Unicode(), **kwargs)

    def validate(self, obj: Any, value: Any) -> list[str]:
        if isinstance(value, str):
            value = [value]
        elif isinstance(value, (set, frozenset)):  # no order: the charts would come in an arbitrary one
            raise ExplorerTypeError(f"{self.name} must be a list of names in order, got a set {sorted(value)!r}")
        elif isinstance(value, Iterable) and not isinstance(value, (bytes, dict)):
            value = list(value)
        else:
            self.error(obj, value)
        bad = [v for v in value if not isinstance(v, str)]
        if bad:
            raise ExplorerTypeError(f"{self.name} must hold names (strings), got {bad[:5]!r} in {value!r}")
        return value


#: The Explorer's panels, in their default order.
VIEWS = ("scatter", "projection", "confusion", "classes", "histograms", "patterns", "flow", "class_graph", "gallery")
#: Default measure pairs of the patterns heatmap: the first pair present in the table is drawn.
PATTERN_PAIRS = (
    ("loss", "human_agreement"),
    ("loss", "knn_agreement"),
    ("loss", "prediction_depth"),
    ("confidence", "knn_agreement"),
    ("loss", "entropy"),
)
MAX_PATTERN_BINS = 15  # cells travel as one byte per row
#: The column the charts colour by with ``color="pattern"``: each row's first matching named pattern.
PATTERN_COLUMN = "pattern"
#: Above this many classes the confusion matrix and the per-class panel are shown only when asked for.
MAX_CLASSES_BY_DEFAULT = 100
#: The key of ``analysis.embeddings`` that the instance view's neighbours use by default.
PENULTIMATE = "penultimate"
#: The gallery order that shows a pattern's rows best, set when the pattern is selected: sorted by
#: ``duplicate_group``, the members of each group of duplicates sit side by side.
PATTERN_SORT = {"conflicting duplicates": "duplicate_group"}


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
        raise ValueError(
            f"selection: the front-end sent row position {positions.max()}, beyond the table's {len(widget._ids)} rows"
        )
    return widget._ids[positions]


class Explorer(anywidget.AnyWidget):
    """Linked scatter, histograms, confusion matrix and gallery over an :class:`Analysis`.

    Parameters
    ----------
    analysis : the per-instance table (or a DataFrame, turned into one with ``Analysis.from_dataframe``).
    images : optional images, row-aligned with the table: a uint8 array (N, H, W[, 3]), an ``ImageData``
        (matched by id), a torch dataset (also behind ``DataLoader`` / ``Subset`` / ``ConcatDataset``; items
        ``(image, label)`` or dicts such as ``{"image": ..., "label": ...}``), a list of file paths, or a tuple of
        these whose rows follow one another: after ``analyze(model, train, test)`` pass ``images=(train, test)``.
        A ``transforms.Normalize`` in a dataset's transform is undone for the thumbnails (see
        :class:`~difficulty_widget.data.image_source.ImageSource`). Without images the gallery shows cards.
    display : images to show instead of ``images`` (the same kinds), e.g. the raw images when the model reads
        transformed ones that cannot be drawn faithfully.
    x, y : the scatter's axes (default: ``confidence`` and ``margin``).
    color : ``"correct"``, ``"label"``, ``"prediction"``, ``"pattern"`` (each row's first matching named
        difficulty pattern, see :func:`difficulty_widget.patterns.pattern_labels`), or any column.
    histograms : score columns to draw as brushable histograms (default: up to three); a single name is taken as a
        list of one (``histograms="loss"``). A column without finite values is drawn as an empty chart with a note.
    histogram_scale : the histograms' bins: ``"auto"`` (default: chosen per column from its values, see
        :func:`difficulty_widget.scales.histogram_scale`, so that a skewed score is not one bar), ``"linear"``,
        ``"log"`` or ``"quantile"`` for all, or a dict per column (``{"loss": "log"}``; others ``"auto"``).
    sort_by, caption_score : the gallery's order (``"id"`` or a score column) and the score in each caption (a
        score column, or ``""`` for none) (default: ``loss``).
    thumb_size, gallery_height : the gallery's thumbnail size and height, in pixels (:data:`THUMB_SIZES`,
        :data:`GALLERY_HEIGHTS`).
    views : the panels to show, any of :data:`VIEWS` (default: every panel the table allows; above
        :data:`MAX_CLASSES_BY_DEFAULT` classes the confusion matrix and the per-class panel only when asked for).
    projection : the two columns of the projection panel (default ``proj_x``, ``proj_y`` when present: see
        :func:`difficulty_widget.projection.add_projection`).
    patterns : the two measures of the difficulty-patterns heatmap (default: the first of :data:`PATTERN_PAIRS`
        present), binned into ``pattern_bins`` quantile (or ``pattern_method="width"``) bins.
    class_score : the score averaged per class in the per-class panel (default ``loss``).
    embeddings : an (N, d) array row-aligned with the table (e.g. the penultimate layer): the instance view then
        shows the focused instance's ``k_neighbours`` nearest neighbours in it (found on demand). Default: the
        penultimate features the analysis kept (``analysis.embeddings["penultimate"]``, from
        ``analyze(..., keep_embeddings="penultimate")``), when it has them.
    class_graph : a :class:`difficulty_widget.semantics.ClassGraph` to draw as a linked view: clicking a class
        selects its instances, clicking an edge the instances whose label and prediction are that pair (either
        way); a selection made elsewhere fades the classes it does not contain. Also :meth:`show_class_graph`.
    label_issue_pairs : the class graph also draws this many class pairs with the most flagged label issues
        (labelled as one class, suggested as the other) as dashed purple edges; 0 draws none.

    Label issues: when the table has the columns of :mod:`difficulty_widget.measures.label_issues`
    (``label_issue``, ``label_issue_score``, ``suggested_label``), the pattern ``"label issues"`` selects the
    flagged instances, the gallery's captions and the instance view show the suggested label where it differs
    from the given one, the per-class panel shows the estimated label errors per class, and
    :meth:`relabelling_csv` exports the selection as a relabelling worklist.

    Data quality: with the columns of :mod:`difficulty_widget.measures.data_quality`, the patterns ``"leaked"``,
    ``"outliers"`` and ``"conflicting duplicates"`` select the flagged instances (the last also sorts the gallery by
    ``duplicate_group``, so each group's images and labels sit side by side, conflicting labels highlighted); the
    instance view lists the focused image's duplicates (with their labels and thumbnails) and, for a leaked test
    image, the training image it leaks from.

    The selection: brushing a chart, clicking a confusion cell, or ``explorer.select(...)`` from Python sets
    ``explorer.selection`` (ids, or None); ``explorer.selected`` is those rows; ``on_select`` registers
    callbacks called with them.

    Checked values: the traits (``x``, ``y``, ``color``, ``histograms``, ``histogram_scale``, ``views``, ``focus``,
    ``sort_by``, ``sort_descending``, ``caption_score``, ``thumb_size``, ``gallery_height``, ``reference``,
    ``selection``) are checked
    when set, in the constructor and afterwards: a value they cannot take raises :class:`ExplorerValueError` (a
    ValueError) or :class:`ExplorerTypeError` (a TypeError) naming the trait, and the trait keeps the value it had. Any
    column name works, dots, brackets, spaces and quotes included: the charts escape it for Vega-Lite
    (:func:`difficulty_widget.widget.charts.field`). Malformed messages from the front-end are logged (logger
    ``difficulty_widget.widget.explorer``) and ignored.
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
    _pattern_cells = traitlets.Bytes(b"").tag(sync=True)
    _focus_detail = traitlets.Dict().tag(sync=True)
    _subset_names = traitlets.List(traitlets.Unicode()).tag(sync=True)
    _pattern_names = traitlets.List(traitlets.Dict()).tag(sync=True)
    views = _Names().tag(sync=True)
    _flow = traitlets.Bytes(b"").tag(sync=True)
    _flow_matches = traitlets.Bytes(b"").tag(sync=True)
    _reference = traitlets.Bytes(b"").tag(sync=True)
    #: The reference the selection is compared with: "" for all instances, or the name of a saved subset (the flow
    #: view draws its band; histograms draw its counts as a dashed line).
    reference = _Text("").tag(sync=True)

    selection = IdSelection().tag(
        sync=True, to_json=_selection_to_json, from_json=_selection_from_json, echo_update=False
    )
    focus = _Int(None, allow_none=True).tag(sync=True)
    x = _Text().tag(sync=True)
    y = _Text().tag(sync=True)
    color = _Text("correct", allow_none=True).tag(sync=True)
    histograms = _Names().tag(sync=True)
    #: ``"auto"``, ``"linear"``, ``"log"``, ``"quantile"``, or a dict of these per column (see the class docstring).
    histogram_scale = traitlets.Any("auto")
    sort_by = _Text("id").tag(sync=True)
    sort_descending = _Bool(True).tag(sync=True)
    caption_score = _Text("").tag(sync=True)
    has_images = _Bool(False).tag(sync=True)
    thumb_size = _Int(56).tag(sync=True)
    gallery_height = _Int(300).tag(sync=True)

    def __init__(
        self,
        analysis: Analysis | pd.DataFrame,
        images: Any = None,
        *,
        display: Any = None,
        x: str | None = None,
        y: str | None = None,
        color: str | None = "correct",
        histograms: Iterable[str] | None = None,
        histogram_scale: str | dict[str, str] = "auto",
        sort_by: str | None = None,
        caption_score: str | None = None,
        thumb_size: int = 56,
        gallery_height: int = 300,
        class_graph: Any = None,
        views: Iterable[str] | None = None,
        projection: tuple[str, str] | None = None,
        patterns: tuple[str, str] | None = None,
        pattern_bins: int = 5,
        pattern_method: str = "quantile",
        class_score: str | None = None,
        embeddings: Any = None,
        k_neighbours: int = 8,
        label_issue_pairs: int = 10,
    ) -> None:
        if isinstance(analysis, pd.DataFrame):
            analysis = Analysis.from_dataframe(analysis)
        if not isinstance(analysis, Analysis):
            raise ValueError(f"analysis must be an Analysis or a DataFrame, got {type(analysis).__name__}")
        self.analysis = analysis
        df = analysis.df
        if PATTERN_COLUMN not in df.columns and pattern_lib.available_patterns(analysis):
            # what the charts see: the table plus each row's named pattern, to colour by (color="pattern")
            df = df.assign(**{PATTERN_COLUMN: pattern_lib.pattern_labels(analysis)})
        self._frame = df
        self._ids = _check_browser_ids(df["id"])
        self._sent = table_columns(df)  # the columns the browser gets (strings and other objects stay here)
        self._order = np.argsort(self._ids, kind="stable")
        self._callbacks: list[SelectCallback] = []
        self._class_graph = None if class_graph is None else self._check_graph(class_graph)
        self._images_arg, self._display_arg = images, display
        self._projection = (
            self._check_pair(projection, "projection", df) if projection is not None else _default_projection(df)
        )
        self._patterns = self._check_pair(patterns, "patterns", df) if patterns is not None else None
        if pattern_method not in pattern_lib.BIN_METHODS:
            raise ValueError(f"pattern_method must be one of {pattern_lib.BIN_METHODS}, got {pattern_method!r}")
        if isinstance(pattern_bins, bool) or not isinstance(pattern_bins, int) or not 1 <= pattern_bins <= 15:
            raise ValueError(f"pattern_bins must be an integer in [1, {MAX_PATTERN_BINS}], got {pattern_bins!r}")
        self._pattern_bins, self._pattern_method = pattern_bins, pattern_method
        if patterns is None:
            self._patterns = _default_patterns(df, pattern_bins, pattern_method)
        if class_score is not None and not isinstance(class_score, str):
            raise TypeError(f"class_score must be a column name (a string), got {type(class_score).__name__}")
        if class_score is not None and class_score not in df.columns:
            raise ValueError(f"class_score={class_score!r} is not a column of the analysis")
        if class_score is not None and not pd.api.types.is_numeric_dtype(df[class_score].dtype):
            raise ValueError(
                f"class_score={class_score!r} is not numeric (dtype {df[class_score].dtype}): the per-class panel "
                f"averages it; score columns: {score_columns_of(df)[:30]}"
            )
        self._class_score = class_score if class_score is not None else ("loss" if "loss" in df.columns else None)
        what = "embeddings"
        if embeddings is None:  # the features analyze() kept, when it kept them
            embeddings = (getattr(analysis, "embeddings", None) or {}).get(PENULTIMATE)
            what = f"embeddings (analysis.embeddings[{PENULTIMATE!r}])"
        self._embeddings = self._check_embeddings(embeddings, len(df), what)
        if isinstance(k_neighbours, bool) or not isinstance(k_neighbours, int) or k_neighbours < 1:
            raise ValueError(f"k_neighbours must be a positive integer, got {k_neighbours!r}")
        self._k_neighbours = k_neighbours
        if isinstance(label_issue_pairs, bool) or not isinstance(label_issue_pairs, int) or label_issue_pairs < 0:
            raise ValueError(f"label_issue_pairs must be an integer >= 0, got {label_issue_pairs!r}")
        self._label_issue_pairs = label_issue_pairs
        self._label_issues = self._summarise_label_issues(analysis)
        saved = Subsets.from_analysis(analysis) if "subsets" in analysis.tables else {}
        self.subsets = Subsets(saved, valid_ids=self._ids)  # ids outside the table are rejected
        self.subsets.on_change(self._subsets_changed)  # edits through explorer.subsets too
        self._flow_probes = self._flow_tables(analysis)
        chosen_views = self._check_views(views, df)
        self._images = self._image_source(images, display, df)
        columns = self._sent
        numeric = [c for c in columns if c not in ("id", "label", "split", "prediction")]
        fallback = [c for c in score_columns_of(df) if c not in (x, y) and charts.drawable(c)]
        if x is None:
            x = "confidence" if "confidence" in df.columns else (fallback[:1] or ["id"])[0]
        if y is None:
            y = "margin" if "margin" in df.columns else ([c for c in fallback if c != x][:1] or ["id"])[0]
        if color == "correct" and "correct" not in df.columns:
            color = "label"
        score_columns = [c for c in numeric if c in df.columns and c != "correct"]
        self._sortable = ["id", *score_columns]  # what the gallery can sort by and caption with
        caption = caption_score
        if caption is None:
            caption = "loss" if "loss" in df.columns else (score_columns[0] if score_columns else "")
        super().__init__(
            _table=table_to_ipc(df, columns),
            _class_names=list(analysis.class_names),
            _score_columns=[{"name": c, "title": registry.axis_title(c)} for c in score_columns],
            x=x,
            y=y,
            color=color,
            histograms=histograms if histograms is not None else charts.default_histograms(df, [x, y]),
            histogram_scale=histogram_scale,
            sort_by=sort_by if sort_by is not None else (caption if caption in self._sortable else "id"),
            caption_score=caption,
            has_images=self._images is not None,
            thumb_size=thumb_size,
            gallery_height=gallery_height,
            views=chosen_views,
            _subset_names=list(self.subsets),
            _pattern_names=[
                {"name": name, "description": pattern_lib.pattern_description(analysis, name)}
                for name in pattern_lib.available_patterns(analysis)
            ],
        )
        self._specs = self._build_specs()
        self.observe(self._rebuild_specs, names=["x", "y", "color", "histograms", "histogram_scale", "views"])
        self.observe(self._notify_callbacks, names="selection")
        self.observe(self._describe_focus, names="focus")
        self.observe(self._set_reference, names="reference")
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
            if isinstance(what, pd.Series) and pd.api.types.is_bool_dtype(what.dtype):
                what = self._aligned_mask(what, df)
            values = np.asarray(what)
            if values.dtype == bool:
                if values.shape != (len(df),):
                    raise ValueError(f"a boolean mask must have shape ({len(df)},), one per row; got {values.shape}")
                self.selection = self._ids[values]
            else:
                self.selection = values

    @staticmethod
    def _aligned_mask(mask: pd.Series, df: pd.DataFrame) -> np.ndarray:
        """A boolean Series as a mask over the table's rows, matched by index (a mask taken from a sorted or
        filtered copy of the table selects the rows it names); missing values are an error."""
        if mask.isna().any():
            raise ValueError("a boolean mask must not hold missing values")
        if mask.index.equals(df.index):
            return mask.to_numpy(dtype=bool)
        if not mask.index.is_unique or len(mask) != len(df) or not mask.index.isin(df.index).all():
            raise ValueError(
                f"a boolean Series must have one value per row of the analysis table, indexed like it "
                f"(analysis.df.index: {len(df)} rows); got {len(mask)} values whose index does not match"
            )
        return mask.reindex(df.index).to_numpy(dtype=bool)

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

    def select_pattern(self, name: str) -> None:
        """Select the instances of a named difficulty pattern (:data:`difficulty_widget.patterns.PATTERNS`;
        :attr:`available_patterns` lists those this table allows). Its query, with the thresholds written out, is
        ``difficulty_widget.patterns.pattern_query(explorer.analysis, name)``: edit it and pass it to ``select``.
        Some patterns also set the gallery's order (:data:`PATTERN_SORT`: ``"conflicting duplicates"`` sorts by
        ``duplicate_group``, so that the images of a group sit side by side)."""
        self.selection = pattern_lib.select_pattern(self.analysis, name)
        order = PATTERN_SORT.get(name)
        if order is not None and order in {c["name"] for c in self._score_columns}:
            self.sort_by = order

    @property
    def available_patterns(self) -> list[str]:
        """The named patterns whose measures this table has."""
        return pattern_lib.available_patterns(self.analysis)

    def save_subset(self, name: str, ids: Any = None, *, overwrite: bool = False) -> np.ndarray:
        """Save the current selection (or ``ids``) as subset ``name`` in :attr:`subsets`; it is also written to
        the analysis (``analysis.tables["subsets"]``), so ``analysis.save`` keeps it. A name already used is an
        error unless ``overwrite=True``."""
        if ids is None:
            if self.selection is None:
                raise ValueError("nothing is selected: select instances first, or pass ids")
            ids = self.selection
        return self.subsets.save(name, ids, overwrite=overwrite)

    def select_subset(self, name: str, other: str | None = None, operation: str | None = None) -> None:
        """Select a saved subset, or the ``operation`` (``"union"``, ``"intersection"``, ``"difference"``) of
        subsets ``name`` and ``other``."""
        if name not in self.subsets:
            raise ValueError(f"no subset named {name!r}; saved subsets: {list(self.subsets)}")
        if operation is None and other is not None:
            raise ValueError(
                f"other={other!r} needs operation= ('union', 'intersection' or 'difference'); "
                "leave other out to select one subset"
            )
        if operation is None:
            self.selection = self.subsets[name]
            return
        if operation not in ("union", "intersection", "difference") or other is None:
            raise ValueError(
                f"operation must be 'union', 'intersection' or 'difference' with another subset, got {operation!r}"
            )
        if other not in self.subsets:
            raise ValueError(f"no subset named {other!r}; saved subsets: {list(self.subsets)}")
        if operation == "difference":
            self.selection = self.subsets.difference(name, other)
        else:
            self.selection = getattr(self.subsets, operation)(name, other)

    def relabelling_csv(self, path: str | Path | None = None, ids: Any = None) -> pd.DataFrame:
        """The relabelling worklist of the selection (or of ``ids``: instance ids, a DataFrame with an ``id``
        column, or the name of a saved subset in :attr:`subsets`): one row per instance, ids ascending, with
        ``id``, the given label (``label``, ``label_name``), the suggested label (``suggested_label``,
        ``suggested_name``; missing for rows the flag does not cover, e.g. test rows), ``label_issue_score`` and
        ``label_issue`` (see :func:`difficulty_widget.subsets.relabelling_table`). Written as CSV to ``path`` when
        given; returned as a DataFrame either way. Select the pattern ``"label issues"`` first for every flagged
        instance."""
        if ids is None:
            if self.selection is None or len(self.selection) == 0:
                raise ValueError(
                    "nothing is selected: select instances first (e.g. explorer.select_pattern('label issues')), "
                    "or pass ids= (instance ids or the name of a saved subset)"
                )
            ids = self.selection
        elif isinstance(ids, str):
            if ids not in self.subsets:
                raise ValueError(f"no subset named {ids!r}; saved subsets: {list(self.subsets)}")
            ids = self.subsets[ids]
        table = relabelling_table(self.analysis, ids)
        if path is not None:
            target = Path(path).expanduser()
            if target.is_dir():
                raise ValueError(f"path {str(path)!r} is a folder; give a file name such as relabel.csv")
            table.to_csv(target, index=False)
        return table

    def panel(self, *views: str, **kwargs: Any) -> Explorer:
        """Another Explorer over the same analysis showing only ``views``, for a cell of its own; its selection and
        focus stay linked with this one (both ways). ``kwargs`` go to its constructor."""
        options = {
            "x": self.x,
            "y": self.y,
            "color": self.color,
            "histogram_scale": self.histogram_scale,
            "class_graph": self._class_graph,
            "projection": self._projection,
            "patterns": self._patterns,
            "pattern_bins": self._pattern_bins,
            "pattern_method": self._pattern_method,
            "class_score": self._class_score,
            "embeddings": self._embeddings,
            "k_neighbours": self._k_neighbours,
            "label_issue_pairs": self._label_issue_pairs,
            "display": self._display_arg,
            **kwargs,
        }
        other = Explorer(self.analysis, self._images_arg, views=list(views), **options)
        other.subsets = self.subsets  # one set of subsets: a save in either widget updates both lists
        self.subsets.on_change(other._subsets_changed)
        _link(self, other, "selection")
        _link(self, other, "focus")
        return other

    def show_class_graph(self, graph: Any) -> None:
        """Draw a :class:`difficulty_widget.semantics.ClassGraph` (or replace the one drawn); None removes it."""
        self._class_graph = None if graph is None else self._check_graph(graph)
        self._rebuild_specs({})

    def add_chart(self, chart: Any) -> None:
        """Add your own Altair chart built on :func:`difficulty_widget.widget.instances` (or its Vega-Lite dict); its
        selections link. A chart that is neither, or whose spec is not JSON (NaN, infinity, Python objects), is
        refused here (a TypeError or ValueError naming ``chart``)."""
        if not isinstance(chart, dict) and not callable(getattr(chart, "to_dict", None)):
            raise TypeError(f"chart must be an Altair chart or a Vega-Lite dict, got {type(chart).__name__}")
        try:
            spec = charts.to_spec(chart)
        except ValueError as err:
            raise ValueError(f"chart: {err}") from None
        try:
            json.dumps(spec, allow_nan=False)
        except (TypeError, ValueError) as err:
            kind = TypeError if isinstance(err, TypeError) else ValueError
            raise kind(f"chart: its Vega-Lite spec is not JSON the browser can read: {err}") from None
        self._specs = [*self._specs, {"id": f"user{len(self._specs)}", "spec": spec}]

    # ------------------------------------------------------------------ internals
    def _image_source(self, images: Any, display: Any, df: pd.DataFrame) -> ImageSource | None:
        """The gallery's images: ``display`` if given, else ``images``; an ImageData is matched by id."""
        from ..data.images import ImageData

        for name, value in (("images", images), ("display", display)):
            _check_image_argument(value, name)
        shown = display if display is not None else images
        if shown is None:
            return None
        ids = self._ids if isinstance(shown, ImageData) else None
        splits = df["split"].astype(str).value_counts().to_dict() if "split" in df.columns else None
        return ImageSource(images, len(df), ids=ids, display=display, split_counts=splits)

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

    def _check_pair(self, pair: Any, name: str, df: pd.DataFrame) -> tuple[str, str]:
        if isinstance(pair, (str, bytes, dict, set, frozenset)) or not isinstance(pair, Iterable):
            raise TypeError(f"{name} must be a pair of column names (x, y), got {type(pair).__name__} {pair!r:.100}")
        pair = list(pair)
        if len(pair) != 2:
            raise ValueError(f"{name} must be a pair of column names (x, y), got {len(pair)} items: {pair!r:.100}")
        if not all(isinstance(column, str) for column in pair):
            raise TypeError(f"{name} must be a pair of column names (strings), got {pair!r:.100}")
        for column in pair:
            if column not in df.columns or not pd.api.types.is_numeric_dtype(df[column].dtype):
                numeric = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c].dtype)]
                raise ValueError(f"{name}: {column!r} is not a numeric column of the analysis; numeric: {numeric}")
            if name == "projection" and not charts.drawable(column):
                raise ValueError(f"{name}: {column!r} {charts.undrawable_reason(column)}; rename it")
        return (str(pair[0]), str(pair[1]))

    def _check_views(self, views: Iterable[str] | None, df: pd.DataFrame) -> list[str]:
        possible = {
            "scatter": True,
            "projection": self._projection is not None,
            "confusion": "prediction" in df.columns,
            "classes": "prediction" in df.columns,
            "histograms": True,
            "patterns": self._patterns is not None,
            "flow": self._flow_probes is not None,
            "class_graph": self._class_graph is not None,
            "gallery": True,
        }
        if views is None:
            # a confusion matrix or per-class bars of hundreds of classes cannot be read, and cost most of the
            # first render (1000 classes: ~1.9 s of ~2 s): ask for them with views=[...]; the class graph scales
            crowded = {"confusion", "classes"} if len(self.analysis.class_names) > MAX_CLASSES_BY_DEFAULT else set()
            return [v for v in VIEWS if possible[v] and v not in crowded]
        chosen = [views] if isinstance(views, str) else list(views)
        unknown = [v for v in chosen if v not in VIEWS]
        if unknown:
            raise ValueError(f"views: unknown {unknown}; valid views: {list(VIEWS)}")
        twice = sorted({v for v in chosen if chosen.count(v) > 1})
        if twice:
            raise ValueError(f"views: {twice} appear more than once in {chosen!r}; name each view once")
        impossible = [v for v in chosen if not possible[v]]
        if impossible:
            need = {
                "projection": "proj_x / proj_y columns (difficulty_widget.projection.add_projection) or projection=",
                "confusion": "a prediction column",
                "classes": "a prediction column",
                "patterns": "two difficulty measures, or patterns=(x, y)",
                "flow": "the layer_agreement table that analyze() writes with prediction depth",
                "class_graph": "class_graph=",
            }
            raise ValueError(f"views {impossible} need: " + "; ".join(need[v] for v in impossible))
        return chosen

    def _check_embeddings(self, embeddings: Any, n: int, what: str = "embeddings") -> np.ndarray | None:
        if embeddings is None:
            return None
        feats = to_numpy(embeddings)
        if feats.ndim != 2 or len(feats) != n:
            raise ValueError(f"{what} must be an (N, d) array with one row per instance (N = {n}), got {feats.shape}")
        if feats.dtype.kind not in "iuf":  # not complex (distances would drop the imaginary part), bool or object
            raise ValueError(f"{what} must be real numbers (an integer or float array), got dtype {feats.dtype}")
        if not np.isfinite(feats).all():
            bad = int((~np.isfinite(feats)).any(axis=1).sum())
            raise ValueError(f"{what} must be finite numbers; {bad} row(s) hold NaN or infinite values")
        return feats

    def _subsets_changed(self) -> None:
        self.subsets.write_to(self.analysis)
        self._subset_names = list(self.subsets)
        if self.reference and self.reference not in self.subsets:
            self.reference = ""

    def _flow_tables(self, analysis: Analysis) -> list[str] | None:
        """Send the layer-wise agreement (and vote matches) as float32 / uint8, layer by layer, in table order."""
        from ..measures.flow import AGREEMENT_TABLE, ID_COLUMN, VOTE_MATCHES_TABLE

        table = analysis.tables.get(AGREEMENT_TABLE)
        if table is None:
            return None
        probes = [c for c in table.columns if c != ID_COLUMN]
        positions, missing = lookup_positions(self._ids, table[ID_COLUMN].to_numpy(np.int64), self._order)
        if missing.any() or len(table) != len(self._ids):
            raise ValueError(f"analysis.tables[{AGREEMENT_TABLE!r}] must have one row per instance of the analysis")
        agreement = np.full((len(probes), len(self._ids)), np.nan, dtype=np.float32)
        agreement[:, positions] = table[probes].to_numpy(np.float32).T
        self._flow = agreement.tobytes()
        matches = analysis.tables.get(VOTE_MATCHES_TABLE)
        if matches is not None and list(matches.columns) == list(table.columns):
            votes = np.zeros((len(probes), len(self._ids)), dtype=np.uint8)
            votes[:, positions] = matches[probes].to_numpy(bool).T
            self._flow_matches = votes.tobytes()
        return probes

    @traitlets.validate("views")
    def _valid_views(self, proposal: dict[str, Any]) -> list[str]:
        if not hasattr(self, "_frame"):
            return list(proposal["value"])
        return _checked(self._check_views, proposal["value"], self._frame)

    @traitlets.validate("has_images")
    def _valid_has_images(self, proposal: dict[str, Any]) -> bool:
        if proposal["value"] and getattr(self, "_images", None) is None:
            raise ExplorerValueError("has_images: this Explorer has no images; pass Explorer(..., images=...)")
        return proposal["value"]

    @traitlets.validate("reference")
    def _check_reference(self, proposal: dict[str, Any]) -> str:
        name = proposal["value"]
        if name and name not in self.subsets:
            raise ExplorerValueError(f"reference: no subset named {name!r}; saved subsets: {list(self.subsets)}")
        return name

    @traitlets.validate("x", "y")
    def _valid_axis(self, proposal: dict[str, Any]) -> str:
        return _checked(charts.check_numeric, self._frame, proposal["trait"].name, proposal["value"])

    @traitlets.validate("color")
    def _valid_color(self, proposal: dict[str, Any]) -> str | None:
        color = proposal["value"]
        _checked(charts.color_encoding, self._frame, color)
        derived = (None, "correct", "label", "prediction", "label_name", "prediction_name")  # the browser has these
        if color not in derived and color not in self._sent:
            raise ExplorerValueError(
                f"color={color!r}: the column holds {self._frame[color].dtype} values, which the Explorer does not "
                "send to the browser; colour by a numeric, boolean or categorical column (for text, make it a "
                f"category, analysis.df[{color!r}] = analysis.df[{color!r}].astype('category'), and build the "
                "Explorer again)"
            )
        return color

    @traitlets.validate("histograms")
    def _valid_histograms(self, proposal: dict[str, Any]) -> list[str]:
        df, columns = self._frame, proposal["value"]
        numeric = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c].dtype)]
        for column in columns:
            if column not in df.columns or column not in numeric:
                what = "is not in the analysis" if column not in df.columns else "is not numeric"
                raise ExplorerValueError(f"histograms: histogram column {column!r} {what}; numeric columns: {numeric}")
        undrawable = [c for c in columns if not charts.drawable(c)]
        if undrawable:
            raise ExplorerValueError(
                f"histograms: the column {undrawable[0]!r} {charts.undrawable_reason(undrawable[0])}; rename it"
            )
        twice = sorted({c for c in columns if columns.count(c) > 1})
        if twice:
            raise ExplorerValueError(f"histograms: {twice} appear more than once in {columns!r}")
        return columns

    @traitlets.validate("histogram_scale")
    def _valid_histogram_scale(self, proposal: dict[str, Any]) -> str | dict[str, str]:
        value, allowed = proposal["value"], ("auto", *scales.SCALES)
        if not isinstance(value, (str, dict)):
            raise ExplorerTypeError(f"histogram_scale must be a string or a dict, got {type(value).__name__} {value!r}")
        per_column = value if isinstance(value, dict) else {}
        for scale in per_column.values() if isinstance(value, dict) else [value]:  # {}: every column "auto"
            if scale not in allowed:
                raise ExplorerValueError(f"histogram_scale: {scale!r} is not one of {allowed}")
        df = self._frame
        numeric = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c].dtype)]
        unknown = [c for c in per_column if c not in numeric]
        if unknown:
            raise ExplorerValueError(f"histogram_scale: {unknown} are not numeric columns; numeric columns: {numeric}")
        return dict(value) if isinstance(value, dict) else value

    def _histogram_scale_of(self, column: str) -> str:
        scale = self.histogram_scale
        return scale.get(column, "auto") if isinstance(scale, dict) else scale

    @traitlets.validate("focus")
    def _valid_focus(self, proposal: dict[str, Any]) -> int | None:
        focus = proposal["value"]
        if focus is None:
            return None
        bounds = np.iinfo(np.int64)
        known = bounds.min <= focus <= bounds.max
        if known:
            _, missing = lookup_positions(self._ids, np.array([focus], dtype=np.int64), self._order)
            known = not missing.any()
        if not known:
            span = f"ids {self._ids.min()}..{self._ids.max()}" if len(self._ids) else "no ids"
            raise ExplorerValueError(
                f"focus={focus!r} is not an instance id of the analysis (the table's 'id' column: {span}); "
                "None focuses nothing"
            )
        return focus

    @traitlets.validate("sort_by", "caption_score")
    def _valid_score_name(self, proposal: dict[str, Any]) -> str:
        name, value = proposal["trait"].name, proposal["value"]
        allowed = self._sortable if name == "sort_by" else ["", *self._sortable[1:]]
        if value not in allowed:
            raise ExplorerValueError(f"{name}={value!r} is not one of the gallery's scores; valid: {allowed}")
        return value

    @traitlets.validate("thumb_size", "gallery_height")
    def _valid_pixels(self, proposal: dict[str, Any]) -> int:
        name, value = proposal["trait"].name, proposal["value"]
        low, high = THUMB_SIZES if name == "thumb_size" else GALLERY_HEIGHTS
        if not low <= value <= high:
            raise ExplorerValueError(f"{name} must be a number of pixels in [{low}, {high}], got {value!r}")
        return value

    def _set_reference(self, change: dict[str, Any]) -> None:
        name = change["new"]
        rows = np.sort(self._positions_of(self.subsets[name])) if name else None
        self._reference = b"" if rows is None else positions_to_bytes(rows)
        if bool(change["old"]) != bool(name) and "histograms" in self.views:
            self._rebuild_specs({})  # histograms gain (or lose) the reference's line

    def _describe_focus(self, change: dict[str, Any]) -> None:
        """The instance view: the focused instance's scores as percentiles, its duplicates (and the training image
        a leaked test image duplicates) and, with embeddings, its neighbours."""
        focus = change["new"]
        if focus is None:
            self._focus_detail = {}
            return
        positions, missing = lookup_positions(self._ids, np.array([focus]), self._order)
        if missing.any():
            self._focus_detail = {}
            return
        position = int(positions[0])
        df = self.analysis.df
        scores = score_percentiles(df, position)
        detail: dict[str, Any] = {
            "id": int(focus),
            "scores": [
                {
                    "name": r.name,
                    "value": _json_number(r.value),
                    "percentile": _json_number(r.percentile),
                    "harder_than": _json_number(r.harder_than),
                    "direction": r.direction,
                }
                for r in scores.itertuples()
            ],
            "neighbours": [],
            "suggestion": None,
            "duplicates": [
                {"position": int(r.position), "id": int(r.id), "label": int(r.label), "same_label": bool(r.same_label)}
                for r in duplicates_of(df, position).itertuples()
            ],
            "leak": leak_text(df["leaks_from"].iloc[position]) if "leaks_from" in df.columns else None,
        }
        if "suggested_label" in df.columns:
            label, suggested = df["label"].iloc[position], df["suggested_label"].iloc[position]
            detail["suggestion"] = suggestion_text(label, suggested, self.analysis.class_names)
        if self._embeddings is not None:
            near, distances = nearest_neighbours(self._embeddings, position, self._k_neighbours)
            labels = df["label"].to_numpy()
            detail["neighbours"] = [
                {
                    "position": int(p),
                    "id": int(self._ids[p]),
                    "label": int(labels[p]),
                    "distance": float(d),
                    "same_label": bool(labels[p] == labels[position]),
                }
                for p, d in zip(near, distances, strict=True)
            ]
        self._focus_detail = detail

    def _summarise_label_issues(self, analysis: Analysis) -> LabelIssueSummary | None:
        """Per class and per class pair, the flagged label issues (None without the label-issue columns)."""
        df = analysis.df
        if not all(c in df.columns for c in LABEL_ISSUE_COLUMNS) or not df["label_issue"].notna().any():
            return None
        names = list(analysis.class_names)
        return label_issue_summary(
            df["label"], df["label_issue"], df["suggested_label"], class_names=names, n_classes=len(names)
        )

    def _check_ids(self, value: Any) -> np.ndarray:
        ids = np.asarray(value)
        if ids.ndim != 1:
            raise ValueError(f"selection must be a 1-D sequence of instance ids, got shape {ids.shape}")
        if ids.size == 0:
            return np.empty(0, dtype=np.int64)
        if not np.issubdtype(ids.dtype, np.integer):
            raise ValueError(f"selection must hold integer instance ids, got dtype {ids.dtype}")
        if ids.dtype.kind == "u" and ids.max() > np.iinfo(np.int64).max:  # int64 would wrap them to negative ids
            beyond = np.unique(ids[ids > np.iinfo(np.int64).max])
            raise ValueError(f"ids not in the analysis: {beyond[:10].tolist()} (ids are the table's 'id' column)")
        ids = np.unique(ids.astype(np.int64))
        _, missing = lookup_positions(self._ids, ids, self._order)
        unknown = ids[missing]
        if unknown.size:
            raise ValueError(f"ids not in the analysis: {unknown[:10].tolist()} (ids are the table's 'id' column)")
        return ids

    def _positions_of(self, ids: np.ndarray) -> np.ndarray:
        return lookup_positions(self._ids, ids, self._order)[0]  # ids are validated when set

    def _build_specs(self) -> list[dict[str, Any]]:
        df = self._frame
        views = set(self.views)
        specs = []
        points = "canvas" if len(df) > self.vega_points_max else "vega"
        if self.x not in df.columns or self.y not in df.columns:
            raise ValueError(f"x={self.x!r} and y={self.y!r} must both be columns of the analysis")
        if "scatter" in views:
            scatter = charts.scatter(df, self.x, self.y, self.color, points=points)
            specs.append({"id": "scatter", "spec": charts.to_spec(scatter)})
        if "projection" in views and self._projection is not None:
            px, py = self._projection
            method = self.analysis.provenance.get("projection", {}).get("method", "projection")
            chart = charts.scatter(
                df, px, py, self.color, points=points, brush="projection_brush", title=f"{method} of the embedding"
            )
            specs.append({"id": "projection", "spec": charts.to_spec(chart)})
        binned = len(df) > self.aggregate_above
        names = self.analysis.class_names
        if "confusion" in views and "prediction" in df.columns:
            source = "confusion_counts" if binned else charts.DATA_NAME
            spec = charts.to_spec(charts.confusion_matrix(names, binned=binned), source=source)
            specs.append({"id": "confusion", "spec": spec})
        if "classes" in views and "prediction" in df.columns:
            errors = None if self._label_issues is None else self._label_issues.per_class
            spec = charts.class_panel(names, self._class_score, label_errors=errors)
            specs.append({"id": "classes", "spec": spec})
        if "patterns" in views and self._patterns is not None:
            px, py = self._patterns
            if _finite_rows(df, px, py).any():
                bins, method = self._pattern_bins, self._pattern_method
                x_edges, y_edges, x_bin, y_bin = pattern_lib.bin_pair(df, px, py, bins, method)
                cells = np.where(x_bin >= 0, x_bin * (len(y_edges) - 1) + y_bin, 255).astype(np.uint8)
                self._pattern_cells = cells.tobytes()
                spec = charts.pattern_heatmap(px, py, x_edges.tolist(), y_edges.tolist(), method=method)
            else:
                note = f"no row has finite values in both {px} and {py}"
                spec = charts.empty_chart("difficulty patterns", note, width=240, height=240)
            specs.append({"id": "patterns", "spec": spec})
        if "flow" in views and self._flow_probes is not None:
            specs.append({"id": "flow", "spec": charts.flow_chart(self._flow_probes)})
        if "class_graph" in views and self._class_graph is not None:
            pairs = None
            if self._label_issues is not None and self._label_issue_pairs:
                pairs = self._label_issues.pairs.head(self._label_issue_pairs)
            specs.append({"id": "class_graph", "spec": charts.class_graph(self._class_graph, label_issues=pairs)})
        for column in self.histograms if "histograms" in views else []:
            if column not in df.columns:
                raise ValueError(f"histogram column {column!r} is not in the analysis")
            scale = self._histogram_scale_of(column)
            spec = charts.histogram_spec(df, column, binned=binned, reference=bool(self.reference), scale=scale)
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

    def _on_message(self, widget: Any, content: Any, buffers: list[Any]) -> None:
        """A custom message from the front-end: ``{"type": "thumbnails" | "subset" | "pattern", ...}``. One that is
        not such an object, of another type, or with a field of the wrong kind is logged (a warning that says
        what was wrong) and ignored; a valid request that fails (a subset name already used) is answered with a
        ``subset_error`` message that the subsets bar shows."""
        if not isinstance(content, dict):
            logger.warning("Explorer: ignored a front-end message that is not an object: %.200r", content)
            return
        handlers = {
            "thumbnails": self._on_thumbnails_message,
            "subset": self._on_subset_message,
            "pattern": self._on_pattern_message,
        }
        kind = content.get("type")
        handler = handlers.get(kind) if isinstance(kind, str) else None
        if handler is None:
            logger.warning(
                "Explorer: ignored a front-end message of unknown type %.100r (known: %s)", kind, sorted(handlers)
            )
            return
        try:
            handler(content)
        except _BadMessage as err:
            logger.warning("Explorer: ignored a malformed %r message from the front-end: %s", kind, err)

    def _on_thumbnails_message(self, content: dict[str, Any]) -> None:
        positions = _message_field(content, "positions", list)
        if not all(isinstance(p, int) and not isinstance(p, bool) for p in positions):
            raise _BadMessage(f"'positions' must be a list of integer row positions, got {positions!r:.200}")
        if self._images is None:
            return
        positions = [p for p in positions if 0 <= p < len(self._ids)]  # rows of another table: nothing to draw
        try:
            pngs = self._images.thumbnails(positions, self.thumb_size)
        except Exception:  # one image that cannot be read or drawn: draw the others, leave its card as it is
            positions, pngs = self._thumbnails_one_by_one(positions)
        self.send({"type": "thumbnails", "positions": positions}, buffers=pngs)

    def _thumbnails_one_by_one(self, positions: list[int]) -> tuple[list[int], list[bytes]]:
        """The thumbnails of the rows whose images can be drawn; the others are logged (one warning) and left out
        (the gallery keeps their cards and does not ask again)."""
        drawn, pngs, failed = [], [], []
        for position in positions:
            try:
                pngs.extend(self._images.thumbnails([position], self.thumb_size))
            except Exception as err:  # a missing file, not an image, a dataset that raises, an odd shape
                failed.append((position, err))
            else:
                drawn.append(position)
        if failed:
            position, err = failed[0]
            logger.warning(
                "Explorer: could not draw the images of %d row(s) (first: row %d, id %d: %s: %.200s); their "
                "gallery cards show no thumbnail",
                len(failed),
                position,
                int(self._ids[position]),
                type(err).__name__,
                err,
            )
        return drawn, pngs

    def _on_pattern_message(self, content: dict[str, Any]) -> None:
        name = _message_field(content, "name", str)
        try:
            self.select_pattern(name)
        except ValueError as err:
            self.send({"type": "subset_error", "message": str(err)})

    def _on_subset_message(self, content: dict[str, Any]) -> None:
        """The subsets bar: save the selection under a name, or select a subset or a combination of two."""
        action = _message_field(content, "action", str)
        if action not in ("save", "select", "remove"):
            raise _BadMessage(f"'action' must be 'save', 'select' or 'remove', got {action!r:.100}")
        name = _message_field(content, "name", str).strip()
        overwrite = _message_field(content, "overwrite", bool, default=False)
        other = _message_field(content, "other", str, default=None) or None
        operation = _message_field(content, "operation", str, default=None) or None
        # what the bar shows is for the person clicking, not the Python API's errors (no "pass overwrite=True")
        problem = None
        if action == "save" and name and self.selection is None:
            problem = "Nothing is selected: brush a chart or click a cell first, then save."
        elif action == "save" and name in self.subsets and not overwrite:
            problem = f'A subset named "{name}" exists: click Save again to replace it.'
        elif action == "select" and name:
            missing = [n for n in (name, other if operation else None) if n and n not in self.subsets]
            problem = f'No subset named "{missing[0]}": it may have been removed.' if missing else None
        if problem is not None:
            self.send({"type": "subset_error", "message": problem})
            return
        try:
            if action == "save" and name:
                self.save_subset(name, overwrite=overwrite)
            elif action == "select" and name:
                self.select_subset(name, other if operation else None, operation)
            elif action == "remove" and name in self.subsets:
                self.subsets.remove(name)
        except ValueError as err:
            self.send({"type": "subset_error", "message": str(err)})


class _BadMessage(ValueError):
    """A front-end message with a missing field or a field of the wrong kind (logged and ignored)."""


_MISSING = object()


def _message_field(content: dict[str, Any], key: str, kind: type, default: Any = _MISSING) -> Any:
    """``content[key]``, which must be a ``kind`` (or missing or null, when a ``default`` is given)."""
    value = content.get(key)
    if value is None and default is not _MISSING:
        return default
    if value is None:
        raise _BadMessage(f"it lacks the field {key!r}")
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise _BadMessage(f"{key!r} must be a {kind.__name__}, got {type(value).__name__} {value!r:.100}")
    return value


#: Ids the browser holds exactly: its numbers are float64, exact for integers up to 2**53.
MAX_BROWSER_ID = 2**53


def _check_browser_ids(ids: pd.Series) -> np.ndarray:
    """The ``id`` column as int64, or a ValueError naming ``id`` when an id is beyond +-2**53: the browser reads ids as
    JavaScript numbers, in which larger ones would collapse into each other (2**60 and 2**60 + 1 are one number)."""
    values = ids.to_numpy()
    if values.size and np.issubdtype(values.dtype, np.integer):
        low, high = int(values.min()), int(values.max())
        if low < -MAX_BROWSER_ID or high > MAX_BROWSER_ID:
            beyond = low if low < -MAX_BROWSER_ID else high
            raise ValueError(
                f"id: the Explorer needs instance ids within +-2**53 ({MAX_BROWSER_ID}), which the browser holds "
                f"exactly as numbers; got ids from {low} to {high} (e.g. {beyond}). Renumber them, e.g. "
                "analysis.df['id'] = range(len(analysis.df)), keeping the old ones in another column"
            )
    return ids.to_numpy(dtype=np.int64)


def _check_image_argument(value: Any, name: str) -> None:
    """What can be checked of ``images=`` / ``display=`` without reading the images: not a pandas object (a
    DataFrame looks like a dataset, of rows), and every file path exists. Parts of a tuple or list are checked too."""
    if isinstance(value, (pd.DataFrame, pd.Series)):
        raise TypeError(
            f"{name} must be images (a uint8 array, an ImageData, a dataset or a list of file paths), got a pandas "
            f"{type(value).__name__}; for a column of file paths pass {name}=df['path'].tolist()"
        )
    if isinstance(value, (list, tuple)) and value and all(isinstance(p, (str, Path)) for p in value):
        missing = [str(p) for p in value if not os.path.isfile(p)]
        if missing:
            raise ValueError(
                f"{name}: {len(missing)} of {len(value)} image paths are not files, e.g. {missing[:3]} (relative "
                f"paths are read from the working directory {os.getcwd()!r})"
            )
    elif isinstance(value, tuple):  # one part per split
        for part in value:
            if isinstance(part, (pd.DataFrame, pd.Series)):
                _check_image_argument(part, name)


def _checked(check: Callable[..., Any], *args: Any) -> Any:
    """``check(*args)``, its ValueError or TypeError raised as the Explorer's (TraitError) kind, so that traitlets
    leaves the trait as it was."""
    try:
        return check(*args)
    except traitlets.TraitError:
        raise
    except ValueError as err:
        raise ExplorerValueError(str(err)) from None
    except TypeError as err:
        raise ExplorerTypeError(str(err)) from None


def _finite_rows(df: pd.DataFrame, *columns: str) -> np.ndarray:
    """Rows where every one of ``columns`` is a finite number."""
    rows = np.ones(len(df), dtype=bool)
    for column in columns:
        rows &= np.isfinite(df[column].to_numpy(dtype=float, na_value=np.nan))
    return rows


def _link(a: Explorer, b: Explorer, name: str) -> None:
    """Keep trait ``name`` equal on both widgets (traitlets.link compares with ``!=``, which arrays refuse)."""

    def follow(target: Explorer) -> Callable[[dict[str, Any]], None]:
        def update(change: dict[str, Any]) -> None:
            setattr(target, name, change["new"])  # setting an equal value again notifies nobody

        return update

    a.observe(follow(b), names=name)
    b.observe(follow(a), names=name)


def score_columns_of(df: pd.DataFrame) -> list[str]:
    """Numeric columns other than the id, label, prediction and correctness."""
    skip = {"id", "label", "prediction", "correct"}
    return [c for c in df.columns if c not in skip and pd.api.types.is_numeric_dtype(df[c].dtype)]


def _default_projection(df: pd.DataFrame) -> tuple[str, str] | None:
    return ("proj_x", "proj_y") if {"proj_x", "proj_y"} <= set(df.columns) else None


def _default_patterns(df: pd.DataFrame, bins: int, method: str) -> tuple[str, str] | None:
    """The first of :data:`PATTERN_PAIRS` present whose bins do not collapse (ties can leave one quantile bin, e.g.
    k-NN agreement on easy data, almost always 1); else the first present."""
    present = [p for p in PATTERN_PAIRS if all(c in df.columns for c in p) and _finite_rows(df, *p).any()]
    for x, y in present:
        x_edges, y_edges, _, _ = pattern_lib.bin_pair(df, x, y, bins, method)
        if bins == 1 or (len(x_edges) > 2 and len(y_edges) > 2):
            return (x, y)
    return present[0] if present else None


def _json_number(value: Any) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None
