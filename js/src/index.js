// The Explorer's front-end (anywidget ESM). Python holds state and answers requests; this draws and reports
// gestures. Nothing here computes a score: it filters rows by the ranges the user brushes and shows them.
import { tableFromIPC } from "apache-arrow";
import { changeset, parse, View } from "vega";
import { compile } from "vega-lite";
import { Handler } from "vega-tooltip";
import { el } from "./dom.js";
import { Gallery } from "./gallery.js";
import { GraphControls, classPositions } from "./graph.js";
import { cellPositions } from "./panels.js";
import { DATA, dataSource, flagsOf, onColumns, positionsFromTrait, referenceSteps } from "./sources.js";
import { SubsetsBar, patternPicker, referencePicker } from "./subsets.js";
import { PointsLayer } from "./points.js";
import { PointLinks } from "./hover.js";
import { LEGEND_SIGNAL, legendCounts } from "./legend.js";
import { debounce, isEmptySelection, positionsWhere, predicateFor, throttle } from "./selection.js";
import { STYLE } from "./style.js";
import { Layout } from "./layout.js";
import { ThemeWatcher, themedSpec } from "./theme.js";

const SEND_EVERY_MS = 120;
const HIGHLIGHT_AFTER_MS = 250; // re-highlight every chart once a gesture pauses, not on every mouse move

/** Decode the Arrow IPC table into columns (typed arrays or JS arrays); Vega row objects are built on first use. */
export function decodeTable(view, classNames) {
  const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  const table = tableFromIPC(bytes);
  const columns = {};
  for (const field of table.schema.fields) {
    const values = table.getChild(field.name).toArray();
    const typed = ArrayBuffer.isView(values) && typeof values[0] !== "bigint";
    columns[field.name] = typed ? values : Array.from(values, (v) => (typeof v === "bigint" ? Number(v) : v));
  }
  const n = table.numRows;
  // class names travel once, as a list; per-row names are looked up here
  if (columns.label) columns.label_name = Array.from(columns.label, (c) => classNames[c]);
  if (columns.prediction) columns.prediction_name = Array.from(columns.prediction, (c) => classNames[c]);
  let rows = null;
  return {
    columns,
    n,
    classNames,
    get hasRows() {
      return rows !== null;
    },
    /** One object per instance for charts on the "instances" source (built once, only if such a chart exists). */
    get rows() {
      if (rows === null) {
        const names = Object.keys(columns);
        rows = new Array(n);
        for (let i = 0; i < n; i++) {
          const row = { _i: i, _sel: 1 };
          for (const name of names) row[name] = columns[name][i];
          rows[i] = row;
        }
      }
      return rows;
    },
  };
}

/** Resolves once `node` is in the document, or after `limitMs` (a detached root still gets drawn). */
function connected(node, limitMs = 1000) {
  if (node.isConnected) return Promise.resolve();
  const start = Date.now();
  return new Promise((resolve) => {
    // timers, not animation frames: those stop in a hidden tab
    const poll = () => (node.isConnected || Date.now() - start > limitMs ? resolve() : setTimeout(poll, 10));
    setTimeout(poll, 0);
  });
}


function selectionParams(spec) {
  const names = [];
  const visit = (s) => {
    // a selection bound to the scales zooms and pans; it selects no instances
    for (const p of s.params || []) if (p.select && p.bind !== "scales") names.push(p.name);
    for (const key of ["layer", "hconcat", "vconcat", "concat"]) for (const sub of s[key] || []) visit(sub);
    if (s.spec) visit(s.spec);
  };
  visit(spec);
  return names;
}

async function render({ model, el: root }) {
  root.classList.add("dw-explorer");
  const style = el("style");
  style.textContent = STYLE;
  root.appendChild(style);

  const state = {
    table: decodeTable(model.get("_table"), model.get("_class_names")),
    views: [],
    disposed: false,
    sending: false,
    active: null, // the chart of the current gesture
    flags: null, // Uint8Array: 1 = selected (all 1 when nothing is selected)
    shown: null, // the flags the charts last drew
  };
  const header = el("div", "dw-header");
  const count = el("span", "dw-count");
  const clearButton = el("button", "dw-clear", "Clear selection");
  const subsetsBar = new SubsetsBar(model);
  header.append(count, clearButton, patternPicker(model), subsetsBar.root, referencePicker(model));
  // the charts redraw in the notebook's theme when it changes (the first check once the root is in the page)
  const themeWatcher = new ThemeWatcher(root, () => embedAll());
  const layout = new Layout(root, { onResize: () => themeWatcher.check() });
  const bottom = layout.bottom;
  root.append(header, layout.grid);

  // the scatter and the projection mark the gallery's focused (or hovered) image and show a hovered point's thumbnail
  const eachLink = (fn) => state.views.forEach((entry) => entry.links && fn(entry.links));
  const focusPosition = () => gallery.positionOf(model.get("focus"));
  const gallery = new Gallery(model, state.table, {
    onFocus: (position) => {
      model.set("focus", state.table.columns.id[position]);
      model.save_changes();
    },
    onHover: (position) => eachLink((links) => links.mark("hover", position)),
    onThumbnail: (position) => eachLink((links) => links.thumbnailArrived(position)),
  });
  const linkHooks = {
    thumbnail: (position) => gallery.thumbnailFor(position),
    caption: (position) => gallery.captionOf(position),
    flags: () => state.flags,
  };
  bottom.append(gallery.root, gallery.detail);

  const sendSelection = throttle((positions) => {
    state.sending = true; // model.set fires our own change listener synchronously: ignore that one
    try {
      model.set("selection", positions === null ? null : new DataView(positions.buffer));
    } finally {
      state.sending = false;
    }
    model.save_changes();
  }, SEND_EVERY_MS);
  const highlightLater = debounce(() => applyHighlight(state), HIGHLIGHT_AFTER_MS);

  // The count and the gallery follow a selection at once; the charts at once, or when a gesture pauses.
  const present = (positions, flags) => {
    const n = state.table.n;
    state.flags = flags;
    count.textContent = positions === null ? `${n} instances, none selected` : `${positions.length} of ${n} selected`;
    root.dataset.selectedCount = positions === null ? "" : String(positions.length);
    gallery.setSelection(positions === null ? null : flags);
  };
  const show = (positions, { now = true } = {}) => {
    present(positions, flagsOf(positions, state.table.n));
    if (now) applyHighlight(state);
    else highlightLater();
  };

  // A gesture in one chart: that chart's selection becomes the selection, other charts' brushes are cleared.
  const onGesture = (entry, value, param) => {
    if (!entry.ready || entry.clearing || state.disposed) return; // not the first run's initial values
    const empty = isEmptySelection(value);
    if (empty && state.active !== entry) return; // an idle chart reporting "nothing"
    // a chart with a brush and a point selection: the click that ends a drag empties the point selection, which
    // must not clear what the brush selected (only the selection that made the current one can clear it)
    if (empty && state.active === entry && state.activeParam && state.activeParam !== param) return;
    let positions = null;
    if (entry.source.select) positions = isEmptySelection(value) ? null : entry.source.select(value);
    else {
      const predicate = predicateFor(onColumns(value, entry.source.fields), state.table.columns);
      positions = isEmptySelection(value) || !predicate ? null : positionsWhere(predicate, state.table.n);
    }
    selectFrom(entry, positions, { now: false });
    state.activeParam = empty ? null : param;
  };
  const selectFrom = (entry, positions, { now = true } = {}) => {
    if (state.active !== entry) {
      clearBrushes(state, entry.view); // once per gesture, not per mouse move
      if (state.active) state.activeParam = null; // another chart's selection is not this one's
    }
    state.active = entry;
    show(positions, { now });
    sendSelection(positions);
  };

  // one embedding at a time: new specs and a new theme may both ask while the charts are being built
  state.embedding = Promise.resolve();
  const embedAll = () => {
    const run = state.embedding.catch(() => {}).then(embedNow);
    state.embedding = run;
    return run;
  };
  const embedNow = async () => {
    if (state.disposed) return;
    for (const v of state.views) {
      v.view.finalize();
      if (v.links) v.links.dispose();
      for (const [key, listener] of v.listeners || []) if (model.off) model.off(key, listener);
    }
    state.views = [];
    layout.clear();
    const theme = themeWatcher.current(); // the colours the notebook's theme resolves to now
    root.dataset.theme = theme.dark ? "dark" : "light";
    root.dataset.embeds = String(Number(root.dataset.embeds || 0) + 1); // how often the charts were built
    for (const { id, spec } of model.get("_specs")) {
      const box = layout.add(id, spec);
      const graphMeta = spec.usermeta && spec.usermeta.dw_graph;
      const toolbar = graphMeta ? el("div", "dw-toolbar") : null;
      const host = toolbar ? el("div") : box;
      if (toolbar) box.append(toolbar, host);
      // compile the Vega-Lite spec and give the view its rows before the first run: one layout, no empty pass
      const compiled = compile(themedSpec(spec, theme)).spec;
      const view = new View(parse(compiled), { renderer: "canvas", container: host, hover: true });
      view.tooltip(new Handler({ theme: theme.dark ? "dark" : "light" }).call); // it escapes HTML in values
      box.__view = view; // for tests and power users: the Vega view of this chart
      const source = dataSource(spec, state.table, model);
      const entry = { id, view, source, params: selectionParams(spec), clearing: false, queue: Promise.resolve() };
      const legend = spec.usermeta && spec.usermeta.dw_legend;
      if (legend && state.table.columns[legend.column]) {
        entry.legend = legend; // its legend's labels carry the selection counts
        view.signal(LEGEND_SIGNAL, legendCounts(state.table.columns[legend.column], state.flags, legend.boolean));
      }
      const points = spec.usermeta && spec.usermeta.dw_points;
      if (points) entry.points = new PointsLayer(box, view, points, state.table); // its view draws no rows
      else if (source.derive) view.change(source.name, changeset().insert(source.derive(state.flags)));
      else view.change(DATA, changeset().insert(state.table.rows));
      for (const name of entry.params) view.addSignalListener(name, (_, value) => onGesture(entry, value, name));
      if (source.cells || (spec.usermeta && spec.usermeta.dw_classes)) {
        // a click on a heatmap cell or on a class selects its instances
        view.addEventListener("click", (_, item) => {
          const datum = item && item.datum;
          if (!datum || typeof datum !== "object") return;
          if (source.cells && datum.cell !== undefined) selectFrom(entry, cellPositions(source.cells(), datum.cell));
          else if (!source.cells && datum.label !== undefined) {
            selectFrom(entry, classPositions(state.table.columns.label, [datum.label]));
          }
        });
      }
      if (graphMeta) {
        entry.graph = new GraphControls({
          toolbar,
          view,
          meta: graphMeta,
          table: state.table,
          update: (fn) => enqueue(entry, fn),
          select: (positions, pair) => {
            entry.graph.showPair(pair);
            selectFrom(entry, positions);
          },
        });
      }
      const referenceMeta = spec.usermeta && spec.usermeta.dw_reference;
      if (referenceMeta) {
        // a histogram's reference line: the saved subset's counts per bin, counted here from its rows
        const name = referenceMeta.source || `ref_${referenceMeta.column}`;
        const tuples = () => referenceSteps(state.table.columns[referenceMeta.column], referenceMeta.edges, model);
        view.change(name, changeset().insert(tuples()));
        const refresh = () => {
          if (state.disposed || !state.views.includes(entry)) return;
          const fresh = tuples();
          enqueue(entry, (v) => v.change(name, changeset().remove(() => true).insert(fresh)));
        };
        model.on("change:_reference", refresh);
        entry.listeners = [...(entry.listeners || []), ["change:_reference", refresh]];
      }
      for (const key of source.refreshOn || []) {
        const refresh = () => {
          if (state.disposed || !state.views.includes(entry)) return;
          const tuples = source.derive(state.flags);
          enqueue(entry, (v) => v.change(source.name, changeset().remove(() => true).insert(tuples)));
        };
        model.on(`change:${key}`, refresh);
        entry.listeners = [...(entry.listeners || []), [`change:${key}`, refresh]];
      }
      state.views.push(entry);
      await view.runAsync();
      const xy = spec.usermeta && (spec.usermeta.dw_xy || spec.usermeta.dw_points);
      if (xy && xy.x && xy.y) {
        entry.links = new PointLinks(box, view, xy, state.table, linkHooks);
        entry.links.mark("focus", focusPosition());
      }
      entry.ready = true;
    }
    state.shown = null;
    applyHighlight(state);
  };

  clearButton.addEventListener("click", () => {
    state.active = null;
    state.activeParam = null;
    clearBrushes(state, null);
    show(null);
    sendSelection(null);
  });

  model.on("change:selection", () => {
    if (state.sending) return;
    // A selection set from Python: clear every brush and show it.
    state.active = null;
    state.activeParam = null;
    clearBrushes(state, null);
    show(positionsFromTrait(model.get("selection")));
  });
  model.on("change:_specs", () => embedAll());
  const showViews = () => layout.setGallery((model.get("views") || []).includes("gallery"));
  showViews();
  model.on("change:views", showViews);
  model.on("change:_focus_detail", () => gallery.showFocus());
  model.on("change:sort_by", () => gallery.refresh());
  model.on("change:sort_descending", () => gallery.refresh());
  model.on("change:caption_score", () => gallery.refresh());
  model.on("change:focus", () => {
    gallery.showFocus();
    eachLink((links) => links.mark("focus", focusPosition()));
  });
  model.on("msg:custom", (msg, buffers) => {
    if (msg && msg.type === "subset_error") subsetsBar.error(msg.message);
    else gallery.receive(msg, buffers);
  });

  const initial = positionsFromTrait(model.get("selection"));
  state.flags = flagsOf(initial, state.table.n);
  // the page's theme reaches the root once it is in the page (JupyterLab adds it a frame after render starts)
  await connected(root);
  await embedAll(); // draws the charts with the current selection
  // a selection set from Python while the charts were being built has already reached them: show the current one
  const current = positionsFromTrait(model.get("selection"));
  present(current, flagsOf(current, state.table.n));
  gallery.showFocus();
  root.dataset.ready = "1";
  return () => {
    subsetsBar.dispose();
    state.disposed = true;
    themeWatcher.disconnect();
    layout.dispose();
    for (const v of state.views) {
      v.view.finalize();
      if (v.links) v.links.dispose();
    }
    gallery.dispose();
  };
}

/** Let every chart show the current selection flags, once per new selection. */
function applyHighlight(state) {
  const flags = state.flags;
  if (!flags || flags === state.shown) return;
  state.shown = flags;
  if (state.table.hasRows) {
    const rows = state.table.rows;
    for (let i = 0; i < rows.length; i++) rows[i]._sel = flags[i];
  }
  for (const entry of state.views) {
    if (entry.points) entry.points.draw(flags); // Vega draws no points here
    if (entry.links) entry.links.drawRing(); // the chart may have been laid out anew
    if (entry.legend) {
      const counts = legendCounts(state.table.columns[entry.legend.column], flags, entry.legend.boolean);
      enqueue(entry, (view) => view.signal(LEGEND_SIGNAL, counts));
    }
    if (entry.source.derive) {
      const tuples = entry.source.derive(flags);
      enqueue(entry, (view) => view.change(entry.source.name, changeset().remove(() => true).insert(tuples)));
    } else enqueue(entry, (view) => view.change(DATA, changeset().modify(() => true, "_sel", (t) => flags[t._i])));
  }
}

/** Vega refuses changes while a run is in progress: every update of a view goes through its queue. */
function enqueue(entry, update) {
  entry.queue = entry.queue.then(async () => {
    update(entry.view);
    await entry.view.runAsync();
  });
  return entry.queue;
}

function clearBrushes(state, except) {
  for (const entry of state.views) {
    if (entry.view === except) continue;
    if (entry.graph) entry.graph.showPair(null);
    if (entry.params.length === 0) continue;
    enqueue(entry, (view) => {
      entry.clearing = true;
      for (const name of entry.params) {
        for (const suffix of ["_x", "_y"]) {
          try {
            view.signal(name + suffix, [0, 0]);
          } catch {
            /* this selection has no such channel */
          }
        }
        try {
          view.data(name + "_store", []);
        } catch {
          /* no store */
        }
      }
    }).finally(() => {
      entry.clearing = false;
    });
  }
}

export default { render };
