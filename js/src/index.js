// The Explorer's front-end (anywidget ESM). Python holds state and answers requests; this draws and reports
// gestures. Nothing here computes a score: it filters rows by the ranges the user brushes and shows them.
import { tableFromIPC } from "apache-arrow";
import { changeset, parse, View } from "vega";
import { compile } from "vega-lite";
import { Handler } from "vega-tooltip";
import { Gallery } from "./gallery.js";
import { GraphControls, classPositions } from "./graph.js";
import { cellPositions } from "./panels.js";
import { DATA, dataSource, flagsOf, onColumns, positionsFromTrait, referenceSteps } from "./sources.js";
import { SubsetsBar, patternPicker, referencePicker } from "./subsets.js";
import { PointsLayer } from "./points.js";
import { debounce, isEmptySelection, positionsWhere, predicateFor, throttle } from "./selection.js";
import { STYLE } from "./style.js";

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

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
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
  const chartsBox = el("div", "dw-charts");
  const bottom = el("div", "dw-bottom");
  root.append(header, chartsBox, bottom);

  const gallery = new Gallery(model, state.table, {
    onFocus: (position) => {
      model.set("focus", state.table.columns.id[position]);
      model.save_changes();
    },
  });
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
  const onGesture = (entry, value) => {
    if (!entry.ready || entry.clearing || state.disposed) return; // not the first run's initial values
    if (isEmptySelection(value) && state.active !== entry) return; // an idle chart reporting "nothing"
    let positions = null;
    if (entry.source.select) positions = isEmptySelection(value) ? null : entry.source.select(value);
    else {
      const predicate = predicateFor(onColumns(value, entry.source.fields), state.table.columns);
      positions = isEmptySelection(value) || !predicate ? null : positionsWhere(predicate, state.table.n);
    }
    selectFrom(entry, positions, { now: false });
  };
  const selectFrom = (entry, positions, { now = true } = {}) => {
    if (state.active !== entry) clearBrushes(state, entry.view); // once per gesture, not per mouse move
    state.active = entry;
    show(positions, { now });
    sendSelection(positions);
  };

  const embedAll = async () => {
    for (const v of state.views) {
      v.view.finalize();
      for (const [key, listener] of v.listeners || []) if (model.off) model.off(key, listener);
    }
    state.views = [];
    chartsBox.replaceChildren();
    for (const { id, spec } of model.get("_specs")) {
      const box = el("div", "dw-chart");
      box.dataset.chart = id;
      chartsBox.appendChild(box);
      const graphMeta = spec.usermeta && spec.usermeta.dw_graph;
      const toolbar = graphMeta ? el("div", "dw-toolbar") : null;
      const host = toolbar ? el("div") : box;
      if (toolbar) box.append(toolbar, host);
      // compile the Vega-Lite spec and give the view its rows before the first run: one layout, no empty pass
      const view = new View(parse(compile(spec).spec), { renderer: "canvas", container: host, hover: true });
      view.tooltip(new Handler().call); // vega-tooltip escapes HTML in values
      box.__view = view; // for tests and power users: the Vega view of this chart
      const source = dataSource(spec, state.table, model);
      const entry = { id, view, source, params: selectionParams(spec), clearing: false, queue: Promise.resolve() };
      const points = spec.usermeta && spec.usermeta.dw_points;
      if (points) entry.points = new PointsLayer(box, view, points, state.table); // its view draws no rows
      else if (source.derive) view.change(source.name, changeset().insert(source.derive(state.flags)));
      else view.change(DATA, changeset().insert(state.table.rows));
      for (const name of entry.params) view.addSignalListener(name, (_, value) => onGesture(entry, value));
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
      entry.ready = true;
    }
    state.shown = null;
    applyHighlight(state);
  };

  clearButton.addEventListener("click", () => {
    state.active = null;
    clearBrushes(state, null);
    show(null);
    sendSelection(null);
  });

  model.on("change:selection", () => {
    if (state.sending) return;
    // A selection set from Python: clear every brush and show it.
    state.active = null;
    clearBrushes(state, null);
    show(positionsFromTrait(model.get("selection")));
  });
  model.on("change:_specs", () => embedAll());
  const showViews = () => {
    bottom.style.display = (model.get("views") || []).includes("gallery") ? "" : "none";
  };
  showViews();
  model.on("change:views", showViews);
  model.on("change:_focus_detail", () => gallery.showFocus());
  model.on("change:sort_by", () => gallery.refresh());
  model.on("change:sort_descending", () => gallery.refresh());
  model.on("change:caption_score", () => gallery.refresh());
  model.on("change:focus", () => gallery.showFocus());
  model.on("msg:custom", (msg, buffers) => {
    if (msg && msg.type === "subset_error") subsetsBar.error(msg.message);
    else gallery.receive(msg, buffers);
  });

  const initial = positionsFromTrait(model.get("selection"));
  state.flags = flagsOf(initial, state.table.n);
  await embedAll(); // draws the charts with the current selection
  // a selection set from Python while the charts were being built has already reached them: show the current one
  const current = positionsFromTrait(model.get("selection"));
  present(current, flagsOf(current, state.table.n));
  gallery.showFocus();
  root.dataset.ready = "1";
  return () => {
    subsetsBar.dispose();
    state.disposed = true;
    for (const v of state.views) v.view.finalize();
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
    else if (entry.source.derive) {
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
