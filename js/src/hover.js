// Linking a scatter with the gallery, both ways: hovering a point shows its thumbnail and caption; the gallery's
// focused or hovered image is marked by a ring in the scatter. Works for both scatter modes (Vega marks, or the
// canvas PointsLayer): positions come from the table's columns through the Vega view's own x / y scales.

import { el } from "./dom.js";
const HOVER_RADIUS = 8; // pixels: the nearest point within this distance of the pointer is the hovered one

/** Map data values to pixels of the chart box: (x, y) -> [left, top] relative to the Vega canvas' box. */
export function pixelMapping(view) {
  const [ox, oy] = view.origin();
  const pad = view.padding();
  const scaleX = view.scale("x");
  const scaleY = view.scale("y");
  return {
    left: ox + pad.left,
    top: oy + pad.top,
    width: view.width(),
    height: view.height(),
    x: (v) => scaleX(v),
    y: (v) => scaleY(v),
  };
}

/**
 * The row nearest to the pointer (px, py, in plot pixels) among the rows shown (flags[i] === 1, or all rows
 * when flags is null), within `radius` pixels; -1 if none. Ties go to the lower row position.
 */
export function nearestRow(X, Y, toX, toY, px, py, flags, radius = HOVER_RADIUS) {
  let best = -1;
  let bestD = radius * radius;
  for (let i = 0; i < X.length; i++) {
    if (flags && flags[i] !== 1) continue;
    const x = X[i];
    const y = Y[i];
    if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
    const dx = toX(x) - px;
    const dy = toY(y) - py;
    const d = dx * dx + dy * dy;
    if (d < bestD || (d === bestD && best === -1)) {
      bestD = d;
      best = i;
    }
  }
  return best;
}


export class PointLinks {
  /**
   * box: the chart's element (holds the Vega canvas); view: its Vega view; xy: {x, y} column names;
   * table: the decoded table; hooks: {thumbnail(position) -> url | null (asks for it when missing),
   * caption(position) -> string, flags() -> Uint8Array | null}.
   */
  constructor(box, view, xy, table, hooks) {
    this.box = box;
    this.view = view;
    this.X = table.columns[xy.x];
    this.Y = table.columns[xy.y];
    this.table = table;
    this.hooks = hooks;
    this.hovered = -1;
    this.marked = { focus: -1, hover: -1 };
    box.style.position = "relative";
    this.tip = el("div", "dw-hover");
    this.tip.style.display = "none";
    this.ring = el("div", "dw-ring");
    this.ring.style.display = "none";
    box.append(this.tip, this.ring);
    this.pressed = false;
    this.frame = 0;
    this.onMove = (event) => {
      if (this.frame) return;
      const { clientX, clientY } = event;
      this.frame = requestAnimationFrame(() => {
        this.frame = 0;
        this.hover(clientX, clientY);
      });
    };
    this.onLeave = () => this.showTip(-1);
    this.onDown = () => {
      this.pressed = true; // a brush is being drawn: no tooltip in the way
      this.showTip(-1);
    };
    this.onUp = () => {
      this.pressed = false;
    };
    box.addEventListener("mousemove", this.onMove);
    box.addEventListener("mouseleave", this.onLeave);
    box.addEventListener("mousedown", this.onDown);
    window.addEventListener("mouseup", this.onUp);
  }

  canvas() {
    return this.box.querySelector("canvas:not(.dw-points)");
  }

  /** The pointer at (clientX, clientY): the nearest shown point within reach gets the tooltip. */
  hover(clientX, clientY) {
    const canvas = this.canvas();
    if (!canvas || this.pressed || !this.X || !this.Y) return this.showTip(-1);
    const rect = canvas.getBoundingClientRect();
    const map = pixelMapping(this.view);
    const px = clientX - rect.left - map.left;
    const py = clientY - rect.top - map.top;
    if (px < -HOVER_RADIUS || py < -HOVER_RADIUS || px > map.width + HOVER_RADIUS || py > map.height + HOVER_RADIUS) {
      return this.showTip(-1);
    }
    this.showTip(nearestRow(this.X, this.Y, map.x, map.y, px, py, this.hooks.flags()));
  }

  showTip(position) {
    this.hovered = position;
    this.box.dataset.hovered = position < 0 ? "" : String(this.table.columns.id[position]);
    if (position < 0) {
      this.tip.style.display = "none";
      return;
    }
    const url = this.hooks.thumbnail(position);
    const children = [];
    if (url) {
      const img = document.createElement("img");
      img.src = url;
      img.width = img.height = 64;
      children.push(img);
    }
    children.push(el("div", "dw-hover-caption", this.hooks.caption(position)));
    this.tip.replaceChildren(...children);
    this.tip.dataset.id = String(this.table.columns.id[position]);
    this.tip.dataset.thumbnail = url ? "1" : "";
    const at = this.place(position);
    if (!at) return;
    this.tip.style.display = "";
    // beside the point, inside the chart where there is room
    const right = at[0] + 12 + 80 < this.box.clientWidth;
    this.tip.style.left = `${right ? at[0] + 12 : Math.max(0, at[0] - 92)}px`;
    this.tip.style.top = `${Math.max(0, at[1] - 40)}px`;
  }

  /** A thumbnail arrived from the kernel: refresh the tooltip if it shows that row. */
  thumbnailArrived(position) {
    if (position === this.hovered) this.showTip(position);
  }

  /** The pixel [left, top] of a row's point in the chart box, or null where it is not drawn. */
  place(position) {
    const canvas = this.canvas();
    if (!canvas || !this.X || !this.Y) return null;
    const x = this.X[position];
    const y = this.Y[position];
    if (!Number.isFinite(x) || !Number.isFinite(y)) return null;
    const map = pixelMapping(this.view);
    const px = map.x(x);
    const py = map.y(y);
    if (!(px >= 0 && px <= map.width && py >= 0 && py <= map.height)) return null;
    return [canvas.offsetLeft + map.left + px, canvas.offsetTop + map.top + py];
  }

  /** Mark a row with the ring: kind "focus" (the gallery's focused image) or "hover" (a hovered thumbnail). */
  mark(kind, position) {
    this.marked[kind] = position;
    this.drawRing();
  }

  drawRing() {
    const position = this.marked.hover >= 0 ? this.marked.hover : this.marked.focus;
    const at = position >= 0 ? this.place(position) : null;
    this.box.dataset.marked = at ? String(this.table.columns.id[position]) : "";
    if (!at) {
      this.ring.style.display = "none";
      return;
    }
    this.ring.style.display = "";
    this.ring.style.left = `${at[0]}px`;
    this.ring.style.top = `${at[1]}px`;
  }

  dispose() {
    this.box.removeEventListener("mousemove", this.onMove);
    this.box.removeEventListener("mouseleave", this.onLeave);
    this.box.removeEventListener("mousedown", this.onDown);
    window.removeEventListener("mouseup", this.onUp);
    if (this.frame) cancelAnimationFrame(this.frame);
    this.tip.remove();
    this.ring.remove();
  }
}
