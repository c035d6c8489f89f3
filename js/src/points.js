// Points of a large scatter, painted on a plain canvas beneath the Vega view (which draws only axes, legend
// and brush), with Vega's own scales. Redrawn when the selection changes, not when the brush moves.

const FADED = 0.06;
const SHOWN = 0.8;
const SIZE = 2; // pixels per side

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
    const width = vegaCanvas.clientWidth;
    const height = vegaCanvas.clientHeight;
    this.canvas.width = width;
    this.canvas.height = height;
    this.canvas.style.cssText = `position:absolute;left:${vegaCanvas.offsetLeft}px;top:${vegaCanvas.offsetTop}px;width:${width}px;height:${height}px;pointer-events:none;`;
    const view = this.view;
    const [ox, oy] = view.origin();
    const pad = view.padding();
    const left = ox + pad.left;
    const top = oy + pad.top;
    // the scales are linear with fixed domains: map values with one multiply-add each
    const affine = (scale) => {
      const [d0, d1] = scale.domain();
      const [r0, r1] = scale.range();
      const a = (r1 - r0) / (d1 - d0 || 1);
      return [a, r0 - a * d0];
    };
    const [ax, bx] = affine(view.scale("x"));
    const [ay, by] = affine(view.scale("y"));
    const plotW = view.width();
    const plotH = view.height();
    const X = this.table.columns[this.meta.x];
    const Y = this.table.columns[this.meta.y];
    const rgb = this.palette.map(parseColour);
    // premultiplied RGBA accumulated per pixel: faded points first, the selected on top
    const acc = new Float32Array(width * height * 4);
    for (const [alpha, wanted] of [[FADED, 0], [SHOWN, 1]]) {
      for (let i = 0; i < X.length; i++) {
        if ((flags ? flags[i] : 1) !== wanted) continue;
        const px = ax * X[i] + bx;
        const py = ay * Y[i] + by;
        if (!(px >= 0 && px <= plotW && py >= 0 && py <= plotH)) continue;
        const c = rgb[this.colorIndex[i]];
        const x0 = Math.round(left + px - SIZE / 2);
        const y0 = Math.round(top + py - SIZE / 2);
        for (let dy = 0; dy < SIZE; dy++) {
          for (let dx = 0; dx < SIZE; dx++) {
            const x = x0 + dx;
            const y = y0 + dy;
            if (x < 0 || y < 0 || x >= width || y >= height) continue;
            const k = (y * width + x) * 4;
            const keep = 1 - alpha;
            acc[k] = c[0] * alpha + acc[k] * keep;
            acc[k + 1] = c[1] * alpha + acc[k + 1] * keep;
            acc[k + 2] = c[2] * alpha + acc[k + 2] * keep;
            acc[k + 3] = alpha + acc[k + 3] * keep;
          }
        }
      }
    }
    const image = new ImageData(width, height);
    const px = image.data;
    for (let k = 0; k < acc.length; k += 4) {
      const a = acc[k + 3];
      if (a === 0) continue;
      px[k] = acc[k] / a;
      px[k + 1] = acc[k + 1] / a;
      px[k + 2] = acc[k + 2] / a;
      px[k + 3] = a * 255;
    }
    this.canvas.getContext("2d").putImageData(image, 0, 0);
  }
}

/** "#rrggbb" or "rgb(r, g, b)" -> [r, g, b]. */
function parseColour(text) {
  if (text.startsWith("#") && text.length === 7) {
    return [1, 3, 5].map((i) => parseInt(text.slice(i, i + 2), 16));
  }
  const m = text.match(/\d+(\.\d+)?/g);
  return m ? m.slice(0, 3).map(Number) : [76, 120, 168];
}
