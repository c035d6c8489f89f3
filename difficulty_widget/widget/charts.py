"""Vega-Lite specs built with Altair, all on one named data source: the instance table.

Every chart reads ``alt.Data(name="instances")``. The front-end fills that source with the rows of the
instance table (the transported columns plus ``label_name``, ``prediction_name`` and ``_sel``, which is 1 for
rows in the current selection, or for all rows when nothing is selected). Any selection param in a chart
(interval or point) selects instances: a user's own chart built on :func:`instances` links like ours.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from itertools import pairwise
from typing import Any

import altair as alt
import numpy as np
import pandas as pd

from .. import scales
from ..measures.registry import axis_title

DATA_NAME = "instances"
SELECTED = "datum._sel == 1"
#: The longest class-name label on an axis, in pixels (Vega-Lite cuts longer ones with an ellipsis).
LABEL_LIMIT = 90
HIGHLIGHT = "#4c78a8"
MUTED = "#d0d0d0"


#: The named source of a chart that has nothing to draw (a column without finite values): the browser leaves it empty.
EMPTY = "empty"
_SPECIAL = re.compile(r"""([.\[\]'"])""")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


#: The signal of a scatter's legend counts per colour category (selected / total), kept by the front-end.
LEGEND_COUNTS = "dw_legend_counts"


def instances() -> alt.Data:
    """The named data source every Explorer chart reads."""
    return alt.Data(name=DATA_NAME)


def field(column: str) -> str:
    """A column name as a Vega-Lite ``field``: a backslash before ``.``, ``[``, ``]`` and quotes, which Vega-Lite
    would otherwise read as a path into nested data (``"a.b"``: field ``b`` of ``a``). Every chart on the instance
    table names its columns through this; give each such channel an explicit ``title`` too (the default title would
    show the backslashes). A name holding a backslash is refused (ValueError): Vega-Lite 6 unescapes such a name
    once more in some transforms than in others, so no escaping reads that column in every chart. An empty name is
    refused too: Vega-Lite reads ``field: ""`` as no field."""
    column = str(column)
    if column == "":
        raise ValueError(f"the column '' {undrawable_reason(column)}; rename the column to draw it")
    if "\\" in column:
        raise ValueError(
            f"the column {column!r} holds a backslash, which Vega-Lite cannot address in a chart; rename the column "
            "(e.g. analysis.df.rename(columns=...)) to draw it"
        )
    return _SPECIAL.sub(r"\\\1", column)


def drawable(column: Any) -> bool:
    """Whether :func:`field` can name ``column`` in a chart (not an empty name, none with a backslash)."""
    return isinstance(column, str) and column != "" and "\\" not in column


def undrawable_reason(column: str) -> str:
    """Why :func:`field` cannot name ``column`` (for messages)."""
    if column == "":
        return "is an empty name, which Vega-Lite reads as no field at all"
    return "holds a backslash, which Vega-Lite cannot address"


def param_key(df: pd.DataFrame, column: str) -> str:
    """The part of a parameter or data-source name that stands for a column: the name itself when it is an
    identifier (``loss``: the histogram's brush is ``hist_loss``), else the column's position in the table
    (``"a.b"`` at position 7: ``hist_7``), so that any column name gives a valid, unique Vega name (an identifier
    never starts with a digit)."""
    return column if _IDENTIFIER.fullmatch(column) else str(list(df.columns).index(column))


def finite_note(df: pd.DataFrame, column: str) -> str | None:
    """None when ``column`` has a finite value to draw, else a short note of what it holds instead."""
    values = df[column].to_numpy(dtype=float, na_value=np.nan)
    if np.isfinite(values).any():
        return None
    nan, inf = int(np.isnan(values).sum()), int(np.isinf(values).sum())
    parts = [f"{nan} missing (NaN)" if nan else "", f"{inf} infinite" if inf else ""]
    held = ", ".join(p for p in parts if p) or "no rows"
    return f"{column}: no finite values to draw ({held})"


def empty_chart(title: str, note: str, *, width: int = 230, height: int = 110) -> dict[str, Any]:
    """A chart with nothing to draw: its title and, beneath it, ``note`` (why it is empty), on the source
    :data:`EMPTY` that the browser leaves empty."""
    chart = (
        alt.Chart(alt.Data(name=EMPTY), width=width, height=height)
        .mark_point()
        .properties(title=alt.TitleParams(text=title, subtitle=note, subtitleColor="#b4402a", anchor="start"))
    )
    spec = to_spec(chart, source=EMPTY)
    spec["usermeta"] = {"dw_empty": {"note": note}}
    return spec


def check_numeric(df: pd.DataFrame, name: str, column: Any) -> str:
    """``column`` if it names a numeric column of ``df``, else a ValueError naming ``name``."""
    if not isinstance(column, str):
        raise TypeError(f"{name} must be a column name (a string), got {type(column).__name__} {column!r}")
    if column not in df.columns or not pd.api.types.is_numeric_dtype(df[column].dtype):
        numeric = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c].dtype)]
        more = f" and {len(numeric) - 30} more" if len(numeric) > 30 else ""
        raise ValueError(
            f"{name}={column!r} must name a numeric column of the analysis; numeric columns: {numeric[:30]}{more}"
        )
    try:
        field(column)
    except ValueError as err:
        raise ValueError(f"{name}={column!r}: {err}") from None
    return column


def scatter(
    df: pd.DataFrame,
    x: str,
    y: str,
    color: str | None = "correct",
    *,
    points: str = "vega",
    width: int = 360,
    height: int = 280,
    brush: str = "scatter_brush",
    title: str | None = None,
) -> alt.Chart:
    """A scatter of two scores with an interval brush (named ``brush``); unselected points fade.

    ``points="vega"`` draws one Vega mark per instance (with tooltips). ``points="canvas"`` is for tens of
    thousands of instances: Vega then draws only the axes, legend and brush, on fixed scale domains, and the
    front-end paints the points beneath it on a plain canvas (named in ``usermeta``), so that moving the
    brush does not redraw every point.
    """
    for name, column in (("x", x), ("y", y)):
        check_numeric(df, name, column)
    if points not in ("vega", "canvas"):
        raise ValueError(f'points must be "vega" or "canvas", got {points!r}')
    on_canvas = points == "canvas"
    brush_param = alt.selection_interval(name=brush)
    color_channel = color_encoding(df, color, explicit_domain=on_canvas)
    notes = [n for n in (finite_note(df, x), finite_note(df, y) if y != x else None) if n]
    heading = title or f"{y} vs {x}"
    chart = (
        alt.Chart(
            instances(),
            width=width,
            height=height,
            title=alt.TitleParams(heading, subtitle=notes, subtitleColor="#b4402a") if notes else heading,
        )
        .mark_circle(size=14)
        .encode(
            x=alt.X(field=field(x), type="quantitative", title=axis_title(x), scale=_axis_scale(df, x, on_canvas)),
            y=alt.Y(field=field(y), type="quantitative", title=axis_title(y), scale=_axis_scale(df, y, on_canvas)),
            color=color_channel,
            opacity=alt.condition(SELECTED, alt.value(0.8), alt.value(0.05)),
            tooltip=[
                alt.Tooltip("id:Q"),
                alt.Tooltip("label_name:N", title="label"),
                *([alt.Tooltip("prediction_name:N", title="prediction")] if "prediction" in df.columns else []),
                alt.Tooltip(field=field(x), type="quantitative", format=".3f", title=x),
                *([alt.Tooltip(field=field(y), type="quantitative", format=".3f", title=y)] if y != x else []),
            ],
        )
        .add_params(brush_param)
    )
    shade = {"label": "label_name", "prediction": "prediction_name"}.get(color, color) if color else None
    usermeta: dict[str, Any] = {}
    padding: dict[str, int] | None = None
    nominal = isinstance(color_channel, alt.Color) and (
        color_channel.type == "nominal" or str(color_channel.shorthand).endswith(":N")
    )
    if nominal and shade in df.columns:
        # the legend reads "label  47 / 412": the front-end keeps the counts of each category in LEGEND_COUNTS
        chart = chart.encode(
            color=color_channel.legend(
                labelExpr=f"datum.label + ({LEGEND_COUNTS}[datum.value + ''] ? '  ' + {LEGEND_COUNTS}[datum.value + '']"
                " : '')"
            )
        ).add_params(alt.param(name=LEGEND_COUNTS, value={}))
        # Vega lays the legend out for its first labels and does not widen it when the signal lengthens them:
        # the right padding keeps room for the longest "  selected / total" that can come
        padding = {"top": 5, "bottom": 5, "left": 5, "right": 5 + legend_counts_width(df[shade])}
        usermeta["dw_legend"] = {"column": shade, "boolean": bool(pd.api.types.is_bool_dtype(df[shade].dtype))}
    if on_canvas:
        usermeta["dw_points"] = {"x": x, "y": y, "color": shade}
        chart = chart.transform_filter("false").properties(background="transparent", usermeta=usermeta)
    else:  # the front-end links its points with the gallery (hover thumbnails, the focused image's ring)
        chart = chart.properties(usermeta={**usermeta, "dw_xy": {"x": x, "y": y}})
    return chart if padding is None else chart.properties(padding=padding)


def legend_counts_width(column: pd.Series, char_px: float = 6.5) -> int:
    """Pixels for the longest legend counts "  n / n" of ``column`` (digits of a 10-11 px font are ~6 px wide)."""
    counts = column.value_counts(dropna=True)
    widest = max((len(f"  {n} / {n}") for n in counts), default=0)
    return int(np.ceil(widest * char_px))


def _axis_scale(df: pd.DataFrame, column: str, explicit: bool) -> alt.Scale:
    if not explicit:
        return alt.Scale(zero=False)
    values = df[column].to_numpy(dtype=float, na_value=np.nan)
    finite = values[np.isfinite(values)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    pad = (high - low) * 0.02 or 0.5
    return alt.Scale(domain=[low - pad, high + pad], nice=False, zero=False)


def color_encoding(df: pd.DataFrame, color: str | None, *, explicit_domain: bool = False) -> alt.Color | alt.ColorValue:
    """Colour by correctness, class (``label_name`` / ``prediction_name``), a category or a score.

    ``explicit_domain`` writes the scale's domain from the table (needed when Vega draws no marks).
    """
    if color is None:
        return alt.value(HIGHLIGHT)
    if color == "correct":
        if "correct" not in df.columns:
            raise ValueError("color='correct' needs a 'correct' column (predictions)")
        return alt.Color("correct:N", scale=alt.Scale(domain=[True, False], range=["#4c78a8", "#e45756"]))
    if color in ("label_name", "prediction_name", "label", "prediction"):
        name = {"label": "label_name", "prediction": "prediction_name"}.get(color, color)
        if name == "prediction_name" and "prediction" not in df.columns:
            raise ValueError(f"color={color!r} needs a 'prediction' column (predictions)")
        names = list(df["label_name"].cat.categories) if explicit_domain else alt.Undefined
        scale = alt.Scale(domain=names) if explicit_domain else alt.Undefined
        return alt.Color(f"{name}:N", title=name.replace("_name", ""), scale=scale)
    if not isinstance(color, str):
        raise TypeError(f"color must be None or a column name (a string), got {type(color).__name__} {color!r}")
    if color not in df.columns:
        raise ValueError(
            f"color={color!r} is not a column of the analysis; use 'correct', 'label', 'prediction', None or one of "
            f"{[str(c) for c in df.columns]}"
        )
    if not drawable(color):
        raise ValueError(f"color={color!r} {undrawable_reason(color)}; rename the column")
    dtype = df[color].dtype
    if pd.api.types.is_bool_dtype(dtype) or not pd.api.types.is_numeric_dtype(dtype):
        domain = sorted(df[color].dropna().unique().tolist()) if explicit_domain else alt.Undefined
        scale = alt.Scale(domain=domain) if explicit_domain else alt.Undefined
        return alt.Color(field=field(color), type="nominal", title=color, scale=scale)
    values = df[color].to_numpy(dtype=float, na_value=np.nan)
    finite = values[np.isfinite(values)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    domain = [low, high] if explicit_domain else alt.Undefined
    scale = alt.Scale(scheme="viridis", domain=domain)
    return alt.Color(field=field(color), type="quantitative", title=axis_title(color), scale=scale)


def histogram_scale_of(df: pd.DataFrame, column: str, scale: str | None = None, bins: int = 40) -> str:
    """The scale of ``column``'s histogram: ``scale`` when given (``"linear"``, ``"log"``, ``"quantile"``), else
    (None or ``"auto"``) the one :func:`difficulty_widget.scales.histogram_scale` picks from its values."""
    if scale not in (None, "auto", *scales.SCALES):
        raise ValueError(f"histogram scale must be one of {scales.SCALES} or 'auto', got {scale!r}")
    if scale in (None, "auto"):
        return scales.histogram_scale(df[column].to_numpy(dtype=float, na_value=np.nan), bins)
    return scale


def bin_edges(df: pd.DataFrame, column: str, bins: int = 40, scale: str | None = None) -> list[float]:
    """Edges of about ``bins`` bins of a column's finite values on ``scale`` (None: chosen from the values), from
    :func:`difficulty_widget.scales.histogram_bins`; a column without finite values is a ValueError."""
    values = df[column].to_numpy(dtype=float, na_value=np.nan)
    if not np.isfinite(values).any():
        raise ValueError(f"column {column!r} has no finite values to draw")
    try:
        return scales.histogram_bins(values, bins, histogram_scale_of(df, column, scale, bins)).tolist()
    except ValueError as err:
        raise ValueError(f"column {column!r}: {err}") from None


def edge_axis(edges: Sequence[float], scale: str) -> alt.Axis:
    """A binned axis with tidy labels (:func:`difficulty_widget.scales.tidy_labels`) at a few of the edges (at
    powers of ten on a log scale)."""
    ticks = scales.axis_ticks(edges, scale)
    values, labels = json.dumps(ticks), json.dumps(scales.tidy_labels(ticks))
    at = f"indexof({values}, datum.value)"
    return alt.Axis(values=ticks, labelExpr=f"{at} < 0 ? format(datum.value, '.3~g') : {labels}[{at}]")


def _bin_index(value: str, edges: Sequence[float], lo: int, hi: int) -> str:
    """A Vega expression of the bin (``lo`` .. ``hi - 1``) that ``value`` falls in: a binary search written out."""
    if hi - lo == 1:
        return str(lo)
    mid = (lo + hi) // 2
    return f"({value} < {edges[mid]!r} ? {_bin_index(value, edges, lo, mid)} : {_bin_index(value, edges, mid, hi)})"


def histogram(
    df: pd.DataFrame,
    column: str,
    *,
    binned: bool = False,
    bins: int = 40,
    width: int = 230,
    height: int = 110,
    reference: bool = False,
    scale: str | None = None,
) -> alt.Chart | alt.LayerChart:
    """Counts of one score, brushable as ``hist_<key>``: selected instances in blue, stacked under the rest
    (``<key>``: :func:`param_key`, the column's name when it is an identifier).

    ``scale``: ``"linear"``, ``"log"`` (a log axis; values <= 0 are left out, said in a subtitle) or
    ``"quantile"`` (bins of about equal counts, each drawn equally wide), or None / ``"auto"``: chosen from the
    values (:func:`difficulty_widget.scales.histogram_scale`: skewed scores are not drawn as one bar). The edges
    travel in ``usermeta.dw_histogram``.

    One layer only, so that a drag starting on any bar starts the brush. ``binned=True`` is for very large
    tables: the chart reads the source ``bins_<key>`` (start, end, _sel, count) that the browser counts
    from the column it already holds, so Vega never sees one tuple per instance; the brush still selects
    instances by value range. A column without finite values gives :func:`empty_chart` (see
    :func:`histogram_spec`), not this.
    """
    scale = histogram_scale_of(df, column, scale, bins)
    edges = bin_edges(df, column, bins, scale)
    title = axis_title(column) + {"linear": "", "log": ", log scale", "quantile": ", quantile bins"}[scale]
    key = param_key(df, column)
    axis = edge_axis(edges, scale)
    # no padding: Vega-Lite pads a bar chart's continuous scale, which would move a piecewise scale's end pieces
    if scale == "log":
        x_scale = alt.Scale(type="log", domain=[edges[0], edges[-1]], nice=False, padding=0)
    elif scale == "quantile":  # piecewise linear: every bin equally wide
        spread = [width * i / (len(edges) - 1) for i in range(len(edges))]
        x_scale = alt.Scale(domain=edges, range=spread, nice=False, zero=False, padding=0)
    else:
        x_scale = alt.Scale(domain=[edges[0], edges[-1]])
    if binned:
        source = alt.Data(name=f"bins_{key}")
        binning = "binned" if scale == "linear" else alt.Undefined
        x = alt.X("start:Q", bin=binning, title=title, scale=x_scale, axis=axis)
        extra: dict[str, Any] = {"x2": "end:Q"}
        count = "count:Q"
    elif scale == "linear":
        source = instances()
        span, n_bins = edges[-1] - edges[0], len(edges) - 1
        bin_width = span / n_bins if np.isfinite(span) else edges[-1] / n_bins - edges[0] / n_bins  # +-1e308
        step = float(f"{bin_width:.12g}")  # 0.1, not 0.09999999999999998
        bin_ = alt.Bin(step=step, extent=[edges[0], edges[-1]], nice=False)
        x = alt.X(field=field(column), type="quantitative", bin=bin_, title=title, axis=axis)
        extra, count = {}, "count():Q"
    else:
        source = instances()
        x = alt.X(field=field(column), type="quantitative", title=title, scale=x_scale, axis=axis)
        extra, count = {"x2": alt.X2(field=f"_dw_end_{key}")}, f"_dw_count_{key}:Q"
    chart = alt.Chart(source, width=width, height=height)
    if not binned and scale != "linear":
        # bins of unequal width, counted in Vega: each row's bin by a binary search over the edges, counts per
        # (bin, _sel), and each count's bar from its bin's start (under the column's name, so that the brush
        # reports the column's range) to its end
        value, bin_field, listed = f"datum[{json.dumps(column)}]", f"_dw_bin_{key}", json.dumps(edges)
        inside = f"isValid({value}) && isFinite(+{value}) && {value} >= {edges[0]!r} && {value} <= {edges[-1]!r}"
        chart = (
            chart.transform_filter(inside)
            .transform_calculate(calculate=_bin_index(value, edges, 0, len(edges) - 1), as_=bin_field)
            .transform_aggregate(groupby=[bin_field, "_sel"], **{f"_dw_count_{key}": "count()"})
            .transform_calculate(calculate=f"{listed}[datum.{bin_field}]", as_=column)
            .transform_calculate(calculate=f"{listed}[datum.{bin_field} + 1]", as_=f"_dw_end_{key}")
        )
    chart = (
        chart.mark_bar(orient="vertical")  # x to x2 is the bin, y the (stacked) count
        .encode(
            x=x,
            y=alt.Y(count, title="count"),
            color=alt.Color("_sel:O", scale=alt.Scale(domain=[1, 0], range=[HIGHLIGHT, MUTED]), legend=None),
            order=alt.Order("_sel:O", sort="descending"),
            **extra,
        )
        .add_params(alt.selection_interval(name=f"hist_{key}", encodings=["x"]))
    )
    meta: dict[str, Any] = {"dw_histogram": {"column": column, "scale": scale, "edges": edges}}
    if binned:
        meta["dw_bins"] = {"column": column, "edges": edges}
    if reference:
        # the reference subset's counts per bin as a dashed step line, counted in the browser (source ref_<key>)
        line = (
            alt.Chart(alt.Data(name=f"ref_{key}"))
            .mark_line(interpolate="step-after", color="#222222", strokeDash=[4, 2], strokeWidth=1.2)
            .encode(x=alt.X("start:Q", scale=x_scale, title=title, axis=axis), y="count:Q")
        )
        meta["dw_reference"] = {"column": column, "edges": edges, "source": f"ref_{key}"}
        chart = alt.layer(chart, line)
    values = df[column].to_numpy(dtype=float, na_value=np.nan)
    left_out = int((values <= 0).sum()) if scale == "log" else 0
    if left_out:
        note = f"{left_out} value{'s' if left_out != 1 else ''} <= 0 not drawn (log scale)"
        chart = chart.properties(title=alt.TitleParams("", subtitle=note, subtitleColor="#b4402a", anchor="start"))
    return chart.properties(usermeta=meta)


def histogram_spec(
    df: pd.DataFrame,
    column: str,
    *,
    binned: bool = False,
    reference: bool = False,
    bins: int = 40,
    scale: str | None = None,
) -> dict[str, Any]:
    """The Explorer's histogram of ``column`` as a Vega-Lite dict: :func:`histogram` (on ``scale``, None: chosen
    from the values), or, when the column has no finite value, :func:`empty_chart` with a note of what it holds."""
    note = finite_note(df, column)
    if note is None and scale == "log" and not (df[column].to_numpy(dtype=float, na_value=np.nan) > 0).any():
        note = f"{column}: no positive values to draw on a log scale"
    if note is not None:
        return empty_chart(axis_title(column), note)
    source = f"bins_{param_key(df, column)}" if binned else DATA_NAME
    chart = histogram(df, column, binned=binned, reference=reference, bins=bins, scale=scale)
    return to_spec(chart, source=source)


def confusion_matrix(class_names: Sequence[str], *, binned: bool = False, size: int = 260) -> alt.LayerChart:
    """True label x prediction counts; clicking a cell (``confusion_cell``) selects that pair's instances.

    The cell colour is the count over all instances, the number in it the count among the selected ones.
    ``binned=True`` reads the source ``confusion_counts`` (label_name, prediction_name, count, selected) that
    the browser counts from the rows, for very large tables.
    """
    names = list(class_names)
    source = alt.Data(name="confusion_counts") if binned else instances()
    short = alt.Axis(labelLimit=LABEL_LIMIT)  # long class names are cut ("great grey owl, gr…"); tooltips say all
    base = alt.Chart(source, width=size, height=size, title="confusion (click a cell)").encode(
        x=alt.X("prediction_name:N", sort=names, title="prediction", scale=alt.Scale(domain=names), axis=short),
        y=alt.Y("label_name:N", sort=names, title="label", scale=alt.Scale(domain=names), axis=short),
    )
    count = "count:Q" if binned else "count():Q"
    cells = base.mark_rect().encode(
        color=alt.Color(count, scale=alt.Scale(type="symlog", scheme="blues"), legend=None),
        stroke=alt.condition(alt.param("confusion_cell", empty=False), alt.value("#d62728"), alt.value(None)),
        tooltip=[
            alt.Tooltip("label_name:N", title="label"),
            alt.Tooltip("prediction_name:N", title="prediction"),
            alt.Tooltip(count, title="instances"),
        ],
    )
    if binned:
        counts = base.mark_text(fontSize=9).encode(text="selected:Q").transform_filter("datum.selected > 0")
    else:
        counts = base.mark_text(fontSize=9).encode(text="count():Q").transform_filter(SELECTED)
    # the numbers sit on top of the cells, so a click on a number must select the cell too
    fields = ["label_name", "prediction_name"]
    chart = alt.layer(
        cells.add_params(alt.selection_point(name="confusion_cell", fields=fields)),
        counts.add_params(alt.selection_point(name="confusion_number", fields=fields)),
    )
    return chart.properties(usermeta={"dw_confusion": True}) if binned else chart


def to_spec(chart: alt.TopLevelMixin | dict[str, Any], source: str = DATA_NAME) -> dict[str, Any]:
    """A Vega-Lite dict for the front-end: validated, on a named source, without a ``$schema`` URL."""
    spec = chart if isinstance(chart, dict) else chart.to_dict()
    spec = dict(spec)
    spec.pop("$schema", None)
    if spec.get("data", {"name": source}) != {"name": source} or "datasets" in spec:
        raise ValueError(
            f"a chart for the Explorer must read the named data source {source!r} "
            "(alt.Chart(difficulty_widget.widget.instances())), not inline or URL data"
        )
    spec["data"] = {"name": source}
    return spec


def default_histograms(df: pd.DataFrame, exclude: Sequence[str], limit: int = 3) -> list[str]:
    """Up to ``limit`` float score columns worth a histogram, in a fixed order of preference."""
    preferred = ["loss", "entropy", "confidence", "margin", "true_prob", "prediction_depth"]
    floats = [c for c in preferred if c in df.columns and pd.api.types.is_float_dtype(df[c].dtype)]
    return [c for c in floats if c not in exclude][:limit]


#: The named source of the class graph's nodes: the browser fills it from ``usermeta.dw_graph`` and counts, per
#: class, the selected instances (``n``: instances with that label, ``selected``: how many are selected,
#: ``active``: 1 when some are, or when nothing is selected).
GRAPH_NODES = "graph_nodes"
CONFUSION_EXPLAINED = ["#54a24b", "#e45756"]
LABEL_ISSUE_COLOR = "#9467bd"


def _label_issue_edges(pairs: pd.DataFrame | None, xy: np.ndarray, names: list[str], offset: float) -> list[dict]:
    """Edge records of kind ``"label_issue"`` for the class graph, shifted by ``offset`` (layout units) to the left
    of the line from class a to class b, so that a confusion edge of the same pair stays visible beside it."""
    if pairs is None or len(pairs) == 0:
        return []
    missing = [c for c in ("class_a", "class_b", "a_to_b", "b_to_a", "total") if c not in pairs.columns]
    if missing:
        raise ValueError(f"label_issues must be label_issue_summary(...).pairs; it lacks the columns {missing}")
    a = pairs["class_a"].to_numpy(np.int64)
    b = pairs["class_b"].to_numpy(np.int64)
    if (a < 0).any() or (b >= len(names)).any() or (a >= b).any():
        raise ValueError(f"label_issues: class_a < class_b must be classes in [0, {len(names)})")
    start, end = xy[a], xy[b]
    direction = end - start
    length = np.hypot(direction[:, 0], direction[:, 1])
    normal = np.stack([-direction[:, 1], direction[:, 0]], axis=1) / np.where(length > 0, length, 1.0)[:, None]
    start, end = start + offset * normal, end + offset * normal
    return [
        {
            "kind": "label_issue",
            "a": int(i),
            "b": int(j),
            "x": float(s[0]),
            "y": float(s[1]),
            "x2": float(e[0]),
            "y2": float(e[1]),
            "name_a": names[i],
            "name_b": names[j],
            "count": int(t),
            "a_to_b": int(ab),
            "b_to_a": int(ba),
            "similarity": None,
            "explained": None,
        }
        for i, j, s, e, ab, ba, t in zip(
            a, b, start, end, pairs["a_to_b"], pairs["b_to_a"], pairs["total"], strict=True
        )
    ]


def class_graph(
    graph: Any, *, label_issues: pd.DataFrame | None = None, width: int = 520, height: int = 420
) -> dict[str, Any]:
    """The class graph (a :class:`difficulty_widget.semantics.ClassGraph`) as a Vega-Lite spec.

    Similarity edges grey, confusion edges with width = count and colour = whether structural similarity
    explains them; nodes coloured by group or ancestor. Drag pans, the wheel zooms (``graph_zoom``). Selection
    is by click, handled by the front-end (a node selects its class's instances, an edge the instances whose
    label and prediction are that pair in either direction); the signal ``graph_search`` (a lower-case
    substring) outlines and labels matching classes, ``graph_pair`` outlines the picked edge.

    ``label_issues``: class pairs of flagged label issues (rows of the ``pairs`` table of
    :func:`difficulty_widget.measures.label_issues.label_issue_summary`: ``class_a``, ``class_b``, ``a_to_b``,
    ``b_to_a``, ``total``), drawn as dashed purple edges (kind ``"label_issue"``, width = ``total``) set a little
    beside any confusion edge of the same pair; clicking one selects the flagged instances labelled as one class
    of the pair and suggested as the other.
    """
    nodes = graph.nodes
    xy = nodes[["x", "y"]].to_numpy(dtype=float)
    pad = 0.06 * (float(np.ptp(xy)) or 1.0)
    x_scale, y_scale = (
        alt.Scale(domain=[float(v.min()) - pad, float(v.max()) + pad], nice=False, zero=False) for v in xy.T
    )
    names = nodes["name"].tolist()

    edges = graph.edges.assign(
        x=xy[graph.edges["a"], 0],
        y=xy[graph.edges["a"], 1],
        x2=xy[graph.edges["b"], 0],
        y2=xy[graph.edges["b"], 1],
        name_a=[names[i] for i in graph.edges["a"]],
        name_b=[names[i] for i in graph.edges["b"]],
        kind=graph.edges["kind"].astype(str),
        explained=graph.edges["explained"].astype(bool),
    )
    fields = ["kind", "a", "b", "x", "y", "x2", "y2", "name_a", "name_b", "count", "a_to_b", "b_to_a"]
    records = edges[[*fields, "similarity", "explained"]].to_dict(orient="records")
    issue_records = _label_issue_edges(label_issues, xy, names, offset=0.012 * (float(np.ptp(xy)) or 1.0))
    edge_data = alt.InlineData(values=records + issue_records)
    position = {
        "x": alt.X("x:Q", scale=x_scale, axis=None),
        "y": alt.Y("y:Q", scale=y_scale, axis=None),
        "x2": "x2:Q",
        "y2": "y2:Q",
    }
    base_edges = alt.Chart(edge_data)
    pair = "datum.a == graph_pair[0] && datum.b == graph_pair[1]"
    similarity_edges = (
        base_edges.mark_rule(color="#9a9a9a", strokeWidth=1.2, opacity=0.7)
        .encode(**position)
        .transform_filter("datum.kind == 'similarity'")
    )
    edge_tooltip = [
        alt.Tooltip("name_a:N", title="class a"),
        alt.Tooltip("name_b:N", title="class b"),
        alt.Tooltip("a_to_b:Q", title="a predicted as b"),
        alt.Tooltip("b_to_a:Q", title="b predicted as a"),
        alt.Tooltip("similarity:Q", title="structural similarity", format=".3f"),
        alt.Tooltip("explained:N", title=f"among top-{graph.k} neighbours"),
    ]
    confusions = base_edges.transform_filter("datum.kind == 'confusion'")
    max_count = int(graph.confusion_edges["count"].max()) if len(graph.confusion_edges) else 1
    confusion_hits = confusions.mark_rule(strokeWidth=9, color="white", opacity=0.01).encode(
        **position, tooltip=edge_tooltip
    )
    confusion_edges = confusions.mark_rule(opacity=0.55).encode(
        **position,
        strokeWidth=alt.StrokeWidth(
            "count:Q", scale=alt.Scale(domain=[0, max_count], range=[1.5, 8]), title="confusions"
        ),
        color=alt.condition(
            pair,
            alt.value("#222222"),
            alt.Color(
                "explained:N",
                scale=alt.Scale(domain=[True, False], range=CONFUSION_EXPLAINED),
                title=f"confusion between top-{graph.k} neighbours",
            ),
        ),
        tooltip=edge_tooltip,
    )

    issue_layers = []
    if issue_records:
        issue_tooltip = [
            alt.Tooltip("name_a:N", title="class a"),
            alt.Tooltip("name_b:N", title="class b"),
            alt.Tooltip("a_to_b:Q", title="labelled a, suggested b"),
            alt.Tooltip("b_to_a:Q", title="labelled b, suggested a"),
            alt.Tooltip("count:Q", title="label issues"),
        ]
        issues = base_edges.transform_filter("datum.kind == 'label_issue'")
        max_issues = max(r["count"] for r in issue_records)
        issue_layers = [
            issues.mark_rule(strokeWidth=9, color="white", opacity=0.01).encode(**position, tooltip=issue_tooltip),
            issues.mark_rule(strokeDash=[5, 3], opacity=0.85).encode(
                **position,
                strokeWidth=alt.StrokeWidth(
                    "count:Q", scale=alt.Scale(domain=[0, max_issues], range=[1.2, 6]), title="label issues (dashed)"
                ),
                color=alt.condition(pair, alt.value("#222222"), alt.value(LABEL_ISSUE_COLOR)),
                tooltip=issue_tooltip,
            ),
        ]

    n_colors = nodes["color"].nunique()
    search = "graph_search && indexof(lower(datum.name), graph_search) >= 0"
    node_base = alt.Chart(alt.Data(name=GRAPH_NODES))
    color = (
        alt.value(HIGHLIGHT)
        if graph.color_by is None
        else alt.Color(
            "color:N",
            title=graph.color_by,
            scale=alt.Scale(scheme="category20"),
            legend=alt.Legend() if n_colors <= 20 else None,
        )
    )
    node_size = 90 if len(nodes) <= 50 else 40 if len(nodes) <= 300 else 22
    node_marks = (
        node_base.mark_circle(size=node_size, strokeWidth=2)
        .encode(
            x=alt.X("x:Q", scale=x_scale, axis=None),
            y=alt.Y("y:Q", scale=y_scale, axis=None),
            color=color,
            opacity=alt.condition("datum.active == 1", alt.value(0.95), alt.value(0.15)),
            stroke=alt.condition(search, alt.value("#000000"), alt.value(None)),
            tooltip=[
                alt.Tooltip("name:N", title="class"),
                alt.Tooltip("color:N", title=graph.color_by or "colour"),
                alt.Tooltip("n:Q", title="instances"),
                alt.Tooltip("selected:Q", title="selected"),
                alt.Tooltip("top_neighbours:N", title=f"top-{graph.k} structural neighbours"),
            ],
        )
        .add_params(alt.selection_interval(name="graph_zoom", bind="scales"))
    )
    always_label = len(nodes) <= 30
    labels = (
        node_base.mark_text(dy=-9, fontSize=10, color="#333333")
        .encode(
            x=alt.X("x:Q", scale=x_scale, axis=None),
            y=alt.Y("y:Q", scale=y_scale, axis=None),
            text="name:N",
        )
        .transform_filter("true" if always_label else search)
    )
    chart = (
        alt.layer(confusion_hits, similarity_edges, confusion_edges, *issue_layers, node_marks, labels)
        .properties(width=width, height=height, title="class graph (click a class or an edge)")
        .add_params(alt.param(name="graph_search", value=""), alt.param(name="graph_pair", value=[-1, -1]))
        .resolve_scale(color="independent", strokeWidth="independent")
    )
    spec = chart.to_dict()
    spec.pop("$schema", None)
    spec["usermeta"] = {
        "dw_graph": {
            "label": nodes["class"].astype(int).tolist(),
            "name": names,
            "x": xy[:, 0].tolist(),
            "y": xy[:, 1].tolist(),
            "color": nodes["color"].tolist(),
            "top_neighbours": nodes["top_neighbours"].tolist(),
        }
    }
    return spec


#: The heatmap's source: one tuple per cell, counted in the browser from the per-row cell index the kernel sends.
PATTERN_CELLS = "pattern_cells"
#: The per-class panel's source: per class accuracy and mean score, over all rows and over the selection.
CLASS_STATS = "class_stats"


def bin_labels(edges: Sequence[float]) -> list[str]:
    """Readable, unique labels of consecutive bins: ``"0.12–0.5"``, ``"4.06e-8–8.48e-4"`` (the last bin closed), in
    tidy numbers (:func:`difficulty_widget.scales.tidy_labels`: as many digits as tell the edges apart)."""
    labels = [f"{lo}–{hi}" for lo, hi in pairwise(scales.tidy_labels(edges))]
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        out.append(label if seen[label] == 1 else f"{label} ({seen[label]})")
    return out


def pattern_heatmap(
    x: str, y: str, x_edges: Sequence[float], y_edges: Sequence[float], *, method: str = "quantile", size: int = 240
) -> dict[str, Any]:
    """Counts of instances in a grid of two measures (the "difficulty patterns" view); clicking a cell selects
    its instances (handled by the front-end, from the cell index per row that the kernel sends).

    The colour is the count over all instances, the number the count among the selected ones.
    """
    x_ranges, y_ranges = bin_labels(list(x_edges)), bin_labels(list(y_edges))
    base = alt.Chart(alt.Data(name=PATTERN_CELLS), width=size, height=size).encode(
        x=alt.X("x_range:O", sort=x_ranges, title=f"{axis_title(x)}, {method} bins", scale=alt.Scale(domain=x_ranges)),
        y=alt.Y("y_range:O", sort=y_ranges[::-1], title=f"{axis_title(y)}, {method} bins",
                scale=alt.Scale(domain=y_ranges[::-1])),
    )  # fmt: skip
    cells = base.mark_rect(stroke="white").encode(
        color=alt.Color("count:Q", scale=alt.Scale(scheme="oranges"), title="instances"),
        tooltip=[
            alt.Tooltip("x_range:O", title=x),
            alt.Tooltip("y_range:O", title=y),
            alt.Tooltip("count:Q", title="instances"),
            alt.Tooltip("selected:Q", title="selected"),
        ],
    )
    numbers = base.mark_text(fontSize=10).encode(text="selected:Q")
    chart = alt.layer(cells, numbers).properties(title="difficulty patterns (click a cell)")
    spec = to_spec(chart, source=PATTERN_CELLS)
    spec["usermeta"] = {
        "dw_cells": {"x": x, "y": y, "nx": len(x_ranges), "ny": len(y_ranges), "x_ranges": x_ranges,
                     "y_ranges": y_ranges}
    }  # fmt: skip
    return spec


def class_panel(
    class_names: Sequence[str], score: str | None, *, label_errors: pd.DataFrame | None = None, width: int = 150
) -> dict[str, Any]:
    """Per-class accuracy (bars: all instances; dots: the selected ones) and, with ``score``, its per-class mean;
    clicking a class selects its instances (handled by the front-end).

    ``label_errors``: the ``per_class`` table of :func:`difficulty_widget.measures.label_issues.label_issue_summary`
    (one row per class, in class order): a third panel then shows each class's estimated number of label errors
    (bars; the dot: the flagged instances among the selected ones, counted by the browser from ``label_issue``).
    The counts travel in ``usermeta.dw_classes`` (``estimated_errors``, ``error_rate``)."""
    names = list(class_names)
    if label_errors is not None and len(label_errors) != len(names):
        raise ValueError(f"label_errors must have one row per class ({len(names)}), got {len(label_errors)}")
    height = max(120, min(14 * len(names), 420))
    base = alt.Chart(alt.Data(name=CLASS_STATS), width=width, height=height).encode(
        y=alt.Y("name:N", sort=names, title=None, scale=alt.Scale(domain=names), axis=alt.Axis(labelLimit=LABEL_LIMIT)),
        tooltip=[
            alt.Tooltip("name:N", title="class"),
            alt.Tooltip("n:Q", title="instances"),
            alt.Tooltip("selected:Q", title="selected"),
            alt.Tooltip("accuracy:Q", format=".3f"),
            alt.Tooltip("selected_accuracy:Q", title="accuracy (selected)", format=".3f"),
            *(
                [alt.Tooltip("mean_score:Q", title=f"mean {score}", format=".3f"),
                 alt.Tooltip("selected_mean_score:Q", title=f"mean {score} (selected)", format=".3f")]
                if score else []
            ),
            *(
                [alt.Tooltip("estimated_errors:Q", title="estimated label errors"),
                 alt.Tooltip("error_rate:Q", title="estimated error rate", format=".1%"),
                 alt.Tooltip("selected_estimated_errors:Q", title="flagged (selected)")]
                if label_errors is not None else []
            ),
        ],
    )  # fmt: skip

    def pair(field: str, title: str, domain: list[float] | None) -> alt.LayerChart:
        scale = alt.Scale(domain=domain) if domain else alt.Undefined
        bars = base.mark_bar(color=MUTED).encode(x=alt.X(f"{field}:Q", title=title, scale=scale))
        dots = base.mark_circle(color=HIGHLIGHT, size=40, opacity=1).encode(x=f"selected_{field}:Q")
        return alt.layer(bars, dots.transform_filter(f"datum.selected_{field} != null"))

    panels = [pair("accuracy", "accuracy (dot: selected)", [0, 1])]
    if score:
        panels.append(pair("mean_score", f"mean {axis_title(score)}", None))
    meta: dict[str, Any] = {"score": score}
    if label_errors is not None:
        panels.append(pair("estimated_errors", "estimated label errors (dot: selected)", None))
        meta["estimated_errors"] = [int(v) for v in label_errors["estimated_errors"]]
        meta["error_rate"] = [float(v) for v in label_errors["error_rate"]]
    chart = alt.hconcat(*panels, spacing=6).properties(title="per class (click a class)")
    spec = to_spec(chart, source=CLASS_STATS)
    spec["usermeta"] = {"dw_classes": meta}
    return spec


#: The flow view's source: per layer and group (the selection, the reference, the focused instance), the
#: quartiles of k-NN label agreement, computed in the browser from the per-probe table the kernel sends.
FLOW_STATS = "flow_stats"
FLOW_GROUPS = ["selection", "reference", "focused instance"]


def flow_chart(probes: Sequence[str], *, width: int = 360, height: int = 220) -> dict[str, Any]:
    """The layer-wise difficulty flow: per probe (x), the median and quartile band of k-NN label agreement (y)
    for the selection against a reference (all instances or a saved subset), and the focused instance's own line.
    Brushing (``flow_brush``) selects the instances whose agreement lies in the brushed range at every layer the
    brush covers (the nearest layer when it covers none)."""
    names = list(probes)
    labels = json.dumps([str(n) for n in names])  # a JSON array is a valid Vega expression literal
    x = alt.X(
        "layer:Q",
        title="probe (input → output)",
        scale=alt.Scale(domain=[-0.3, len(names) - 0.7], nice=False),
        axis=alt.Axis(values=list(range(len(names))), labelExpr=f"{labels}[datum.value]", labelAngle=-30),
    )
    y = alt.Y("median:Q", title="k-NN label agreement", scale=alt.Scale(domain=[0, 1]))
    color = alt.Color("group:N", scale=alt.Scale(domain=FLOW_GROUPS, range=[HIGHLIGHT, "#9a9a9a", "#111111"]),
                      title=None)  # fmt: skip
    base = alt.Chart(alt.Data(name=FLOW_STATS), width=width, height=height)
    tooltip = [
        alt.Tooltip("probe:N"),
        alt.Tooltip("group:N"),
        alt.Tooltip("median:Q", format=".3f"),
        alt.Tooltip("q25:Q", format=".3f"),
        alt.Tooltip("q75:Q", format=".3f"),
        alt.Tooltip("vote_share:Q", title="vote = final prediction", format=".3f"),
        alt.Tooltip("n:Q", title="instances"),
    ]
    bands = (
        base.mark_area(opacity=0.2)
        .encode(x=x, y=alt.Y("q25:Q", title="k-NN label agreement", scale=alt.Scale(domain=[0, 1])),
                y2="q75:Q", color=color)
        .transform_filter("datum.group != 'focused instance'")
        .add_params(alt.selection_interval(name="flow_brush"))
    )  # fmt: skip
    lines = base.mark_line(point=True).encode(x=x, y=y, color=color, tooltip=tooltip)
    chart = alt.layer(bands, lines).properties(title="difficulty flow across layers (brush a layer's range)")
    spec = to_spec(chart, source=FLOW_STATS)
    spec["usermeta"] = {"dw_flow": {"probes": names}}
    return spec
