// The class graph's front-end: node tuples counted from the selection, click-to-select on nodes and edges, and
// a class search box. The layout comes from Python; Vega draws it and zooms/pans it.
import { issuePairPositions } from "./labels.js";
import { positionsWhere } from "./selection.js";

/** One tuple per class: its layout fields plus n (instances with that label), selected, active (0/1). */
export function graphNodes(meta, labels, flags) {
  const c = meta.label.length;
  const n = new Float64Array(c);
  const selected = new Float64Array(c);
  let total = 0;
  for (let i = 0; i < labels.length; i++) {
    const k = labels[i];
    if (k < 0 || k >= c) continue;
    n[k]++;
    if (flags === null || flags[i]) {
      selected[k]++;
      total++;
    }
  }
  const everything = flags === null || total === labels.length;
  const out = new Array(c);
  for (let k = 0; k < c; k++) {
    out[k] = {
      label: meta.label[k],
      name: meta.name[k],
      x: meta.x[k],
      y: meta.y[k],
      color: meta.color[k],
      top_neighbours: meta.top_neighbours[k],
      n: n[k],
      selected: selected[k],
      active: everything || selected[k] > 0 ? 1 : 0,
    };
  }
  return out;
}

/** Row positions whose label is one of `classes`. */
export function classPositions(labels, classes) {
  const wanted = new Set(classes);
  return positionsWhere((i) => wanted.has(labels[i]), labels.length);
}

/** Row positions whose (label, prediction) is (a, b) or (b, a). */
export function pairPositions(labels, predictions, a, b) {
  const pair = (i) => (labels[i] === a && predictions[i] === b) || (labels[i] === b && predictions[i] === a);
  return positionsWhere(pair, labels.length);
}

/** Class indices whose name contains `query` (case-insensitive; an empty query matches nothing). */
export function matchClasses(names, query) {
  const q = query.trim().toLowerCase();
  if (!q) return [];
  const out = [];
  for (let k = 0; k < names.length; k++) if (names[k].toLowerCase().includes(q)) out.push(k);
  return out;
}

const CLICK_SLOP_PX = 4; // a press that moved further is a pan, not a click

/**
 * The search box and the click handling of one class-graph view. `select(positions, pair)` makes a selection;
 * `update(fn)` queues a change to the view (Vega refuses changes during a run).
 */
export class GraphControls {
  constructor({ toolbar, view, meta, table, select, update }) {
    this.view = view;
    this.meta = meta;
    this.update = update;
    const input = document.createElement("input");
    input.type = "search";
    input.className = "dw-graph-search";
    input.placeholder = "find a class (Enter selects)";
    const status = document.createElement("span");
    status.className = "dw-graph-status";
    toolbar.append(input, status);
    this.input = input;
    this.status = status;

    const labels = table.columns.label;
    const predictions = table.columns.prediction;
    input.addEventListener("input", () => {
      const matches = matchClasses(meta.name, input.value);
      status.textContent = input.value.trim() ? `${matches.length} classes match` : "";
      const query = input.value.trim().toLowerCase();
      update((v) => v.signal("graph_search", query));
    });
    input.addEventListener("keydown", (event) => {
      if (event.key !== "Enter") return;
      const matches = matchClasses(meta.name, input.value).map((k) => meta.label[k]);
      if (matches.length) select(classPositions(labels, matches), null);
    });

    let down = null;
    view.addEventListener("mousedown", (event) => {
      down = [event.clientX, event.clientY];
    });
    view.addEventListener("click", (event, item) => {
      const moved = down && Math.hypot(event.clientX - down[0], event.clientY - down[1]) > CLICK_SLOP_PX;
      down = null;
      const datum = item && item.datum;
      if (moved || !datum || typeof datum !== "object") return;
      if (datum.kind === "label_issue") {
        // a label-issue edge: the flagged instances labelled as one class of the pair and suggested as the other
        select(issuePairPositions(table.columns, datum.a, datum.b), [datum.a, datum.b]);
      } else if (datum.kind !== undefined && datum.a !== undefined) {
        if (!predictions) return;
        select(pairPositions(labels, predictions, datum.a, datum.b), [datum.a, datum.b]);
      } else if (datum.label !== undefined && datum.name !== undefined) {
        select(classPositions(labels, [datum.label]), null);
      }
    });
  }

  /** Outline the picked edge (or none). */
  showPair(pair) {
    this.update((v) => v.signal("graph_pair", pair || [-1, -1]));
  }
}
