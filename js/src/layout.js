// The Explorer's layout: a two-column grid. Left, the main chart (the first spec, normally the scatter) and beneath
// it the other charts in a scrollable area with a strip of buttons naming them; right, the gallery and the instance
// view. A container narrower than NARROW_PX stacks everything in one column. Every chart stays drawn (and gets its
// data and selection updates): the buttons only scroll the area to the chart they name.

import { el } from "./dom.js";
export const NARROW_PX = 900;

/** "narrow" (one column) or "wide" (two) for a container `width` pixels wide; 0 (not laid out yet) is "wide". */
export function layoutFor(width) {
  return width > 0 && width < NARROW_PX ? "narrow" : "wide";
}

const NAMES = {
  scatter: "scatter",
  projection: "projection",
  confusion: "confusion",
  classes: "per class",
  patterns: "patterns",
  flow: "flow",
  class_graph: "class graph",
};

function titleText(title) {
  if (typeof title === "string") return title;
  if (Array.isArray(title)) return title.join(" ");
  if (title && typeof title === "object") return titleText(title.text);
  return "";
}

function xTitle(spec) {
  if (!spec || typeof spec !== "object") return "";
  const x = spec.encoding && spec.encoding.x;
  if (x && typeof x.title === "string") return x.title;
  for (const sub of spec.layer || []) {
    const t = xTitle(sub);
    if (t) return t;
  }
  return "";
}

/** A short name of chart `id` for its button: ours by id, a histogram by its column, anyone else's by its title. */
export function chartLabel(id, spec) {
  if (NAMES[id]) return NAMES[id];
  if (id.startsWith("hist_")) return xTitle(spec) || titleText(spec && spec.title) || id.slice(5);
  const title = titleText(spec && spec.title).replace(/\s*\(.*\)\s*$/, "");
  return title || id;
}


export class Layout {
  /** Builds the grid in `root`; `onResize()` is called when the root changes size. */
  constructor(root, { onResize = () => {} } = {}) {
    this.root = root;
    this.grid = el("div", "dw-layout");
    this.charts = el("div", "dw-charts"); // the left column
    this.main = el("div", "dw-main");
    this.tabs = el("div", "dw-tabs");
    this.tabs.setAttribute("role", "tablist");
    this.others = el("div", "dw-others");
    this.charts.append(this.main, this.tabs, this.others);
    this.bottom = el("div", "dw-bottom"); // the right column: gallery and instance view
    this.grid.append(this.charts, this.bottom);
    this.boxes = [];
    this.others.addEventListener("scroll", () => this.markVisible());
    this.setMode(layoutFor(root.clientWidth));
    this.resizeObserver = typeof ResizeObserver !== "undefined" ? new ResizeObserver(() => {
      this.setMode(layoutFor(this.root.clientWidth));
      onResize();
    }) : null;
    if (this.resizeObserver) this.resizeObserver.observe(root);
  }

  setMode(mode) {
    if (this.root.dataset.layout !== mode) this.root.dataset.layout = mode;
  }

  /** Remove every chart. */
  clear() {
    this.main.replaceChildren();
    this.others.replaceChildren();
    this.tabs.replaceChildren();
    this.boxes = [];
    this.others.scrollTop = 0;
    this.root.dataset.charts = "0";
  }

  /** A box for chart `id` (the first one is the main chart; the others get a button each). */
  add(id, spec) {
    const box = el("div", "dw-chart");
    box.dataset.chart = id;
    if (this.boxes.length === 0) this.main.appendChild(box);
    else {
      this.others.appendChild(box);
      const button = el("button", "dw-tab", chartLabel(id, spec));
      button.type = "button";
      button.dataset.target = id;
      button.setAttribute("role", "tab");
      button.setAttribute("aria-selected", String(this.tabs.childElementCount === 0));
      button.addEventListener("click", () => this.show(box));
      this.tabs.appendChild(button);
    }
    this.boxes.push(box);
    this.root.dataset.charts = String(this.boxes.length);
    return box;
  }

  /** Scroll the area of the other charts to `box` (a chart box in it). */
  show(box) {
    if (box.parentNode !== this.others) return;
    this.others.scrollTop = box.offsetTop - this.others.firstElementChild.offsetTop;
    this.markVisible(box);
  }

  /** Mark the button of the chart at the top of the area (or of `box`). */
  markVisible(box = null) {
    let shown = box;
    if (!shown) {
      const top = this.others.scrollTop + this.others.firstElementChild?.offsetTop;
      for (const b of this.others.children) {
        shown = b;
        if (b.offsetTop + b.offsetHeight > top + 8) break;
      }
    }
    for (const button of this.tabs.children) {
      button.setAttribute("aria-selected", String(!!shown && button.dataset.target === shown.dataset.chart));
    }
  }

  /** Show or hide the gallery column. */
  setGallery(shown) {
    this.bottom.style.display = shown ? "" : "none";
    this.root.dataset.gallery = shown ? "1" : "0";
  }

  dispose() {
    if (this.resizeObserver) this.resizeObserver.disconnect();
  }
}
