// Points of a large scatter, painted on a plain canvas beneath the Vega view (which draws only axes, legend
// and brush), with Vega's own scales. Redrawn when the selection changes, not when the brush moves.

const FADED = 0.06;
const SHOWN = 0.8;
const SIZE = 2.5;

export class PointsLayer {
  constructor(box, view, meta, table) {
    this.view = view;
    this.meta = meta;
    this.table = table;
    this.canvas = document.createElement("canvas");
    this.canvas.className = "dw-points";
    box.style.position = "relative";
    box.insertBefore(this.canvas, box.firstChild);
    this.colorIndex = null;
    this.palette = null;
  }

  // One palette index per row, from Vega's colour scale (computed once).
  colours() {
    if (this.colorIndex) return;
    const n = this.table.n;
    this.colorIndex = new Uint16Array(n);
    const field = this.meta.color;
    let scale = null;
    try {
      scale = field ? this.view.scale("color") : null;
    } catch {
      scale = null;
    }
    if (!scale) {
      this.palette = ["#4c78a8"];
      return;
    }
    const column = this.table.columns[field];
    const lookup = new Map();
    this.palette = [];
    const numeric = ArrayBuffer.isView(column);
    const [lo, hi] = numeric ? scale.domain() : [0, 0];
    for (let i = 0; i < n; i++) {
      // quantitative colours are quantised to 32 steps so each colour is one pass
      const v = numeric ? Math.round(((column[i] - lo) / (hi - lo || 1)) * 31) : column[i];
      let k = lookup.get(v);
      if (k === undefined) {
        k = this.palette.length;
        lookup.set(v, k);
        this.palette.push(String(scale(numeric ? lo + (v / 31) * (hi - lo) : v)));
      }
      this.colorIndex[i] = k;
    }
  }

  draw(flags) {
    const vegaCanvas = this.canvas.parentNode.querySelector("canvas:not(.dw-points)");
    if (!vegaCanvas) return;
    this.colours();
    const ratio = window.devicePixelRatio || 1;
    const width = vegaCanvas.clientWidth;
    const height = vegaCanvas.clientHeight;
    this.canvas.width = Math.round(width * ratio);
    this.canvas.height = Math.round(height * ratio);
    this.canvas.style.cssText = `position:absolute;left:${vegaCanvas.offsetLeft}px;top:${vegaCanvas.offsetTop}px;width:${width}px;height:${height}px;pointer-events:none;`;
    const ctx = this.canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const view = this.view;
    const sx = view.scale("x");
    const sy = view.scale("y");
    const [ox, oy] = view.origin();
    const pad = view.padding();
    const left = ox + pad.left;
    const top = oy + pad.top;
    const X = this.table.columns[this.meta.x];
    const Y = this.table.columns[this.meta.y];
    const n = this.table.n;
    const half = SIZE / 2;
    ctx.save();
    ctx.beginPath();
    ctx.rect(left, top, view.width(), view.height());
    ctx.clip();
    for (const [alpha, wanted] of [[FADED, 0], [SHOWN, 1]]) {
      ctx.globalAlpha = alpha;
      for (let k = 0; k < this.palette.length; k++) {
        ctx.fillStyle = this.palette[k];
        for (let i = 0; i < n; i++) {
          if (this.colorIndex[i] !== k || (flags ? flags[i] : 1) !== wanted) continue;
          ctx.fillRect(left + sx(X[i]) - half, top + sy(Y[i]) - half, SIZE, SIZE);
        }
      }
    }
    ctx.restore();
  }
}
