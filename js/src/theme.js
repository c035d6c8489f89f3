// The notebook's theme for the Explorer: the colours its CSS resolved (JupyterLab's --jp-* variables, else VS Code's
// --vscode-* ones, else a light default: see style.js) read from the widget's root, turned into a Vega config, and
// watched so that the charts follow a theme switched while they are shown.

/** The Explorer's colour variables (defined in style.js) and the light defaults used when none resolves. */
export const THEME_VARS = {
  fg: ["--dw-fg", "#222222"], // text
  fg2: ["--dw-fg2", "#555555"], // secondary text
  bg: ["--dw-bg", "#ffffff"], // the widget's background
  bg1: ["--dw-bg1", "#ffffff"], // raised surfaces: thumbnails, controls
  border: ["--dw-border", "#bdbdbd"],
  border2: ["--dw-border2", "#e0e0e0"], // light rules: grid lines, table rows
  error: ["--dw-error", "#d32f2f"],
};

// Colours the kernel's specs give as plain ink or paper (charts.py): drawn in the theme's text and background colour.
const INK = new Set(["#000", "#000000", "black", "#111", "#111111", "#222", "#222222", "#333", "#333333"]);
const PAPER = new Set(["#fff", "#ffffff", "white"]);
const WARNING = new Set(["#b4402a"]); // the subtitle of an empty chart
const COLOUR_KEYS = new Set(["color", "fill", "stroke", "subtitleColor", "labelColor", "titleColor"]);
const NOT_STYLE = new Set(["data", "datasets", "usermeta", "values", "transform"]);
const NAMED = { black: [0, 0, 0, 1], white: [255, 255, 255, 1], transparent: [0, 0, 0, 0] };

/** A CSS colour as [r, g, b, a] (hex, rgb(), rgba(), a few names; others through a canvas when there is one). */
export function parseColour(text) {
  const t = String(text || "").trim().toLowerCase();
  if (t in NAMED) return NAMED[t].slice();
  let m = t.match(/^#([0-9a-f]{3,8})$/);
  if (m) {
    let h = m[1];
    if (h.length === 3 || h.length === 4) h = [...h].map((c) => c + c).join("");
    if (h.length !== 6 && h.length !== 8) return null;
    const v = [0, 2, 4].map((i) => parseInt(h.slice(i, i + 2), 16));
    return [...v, h.length === 8 ? parseInt(h.slice(6, 8), 16) / 255 : 1];
  }
  m = t.match(/^rgba?\(([^)]*)\)$/);
  if (m) {
    const parts = m[1].split(/[\s,/]+/).filter(Boolean);
    if (parts.length < 3) return null;
    const channel = (p) => (p.endsWith("%") ? (parseFloat(p) * 255) / 100 : parseFloat(p));
    const alpha = parts.length > 3 ? (parts[3].endsWith("%") ? parseFloat(parts[3]) / 100 : parseFloat(parts[3])) : 1;
    const out = [...parts.slice(0, 3).map(channel), alpha];
    return out.every((v) => Number.isFinite(v)) ? out : null;
  }
  if (typeof document !== "undefined" && document.createElement) {
    try {
      const ctx = document.createElement("canvas").getContext("2d");
      ctx.fillStyle = "#010203";
      ctx.fillStyle = t;
      if (ctx.fillStyle !== "#010203" || t === "#010203") return parseColour(ctx.fillStyle);
    } catch {
      /* no canvas */
    }
  }
  return null;
}

/** `top` (which may be translucent) painted over the opaque `under`: [r, g, b]. */
export function composite(top, under) {
  const a = top[3] === undefined ? 1 : top[3];
  return [0, 1, 2].map((i) => top[i] * a + under[i] * (1 - a));
}

/** WCAG 2.x relative luminance of [r, g, b] (0-255). */
export function luminance([r, g, b]) {
  const lin = (c) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}

/** WCAG 2.x contrast ratio of two CSS colours, the first painted over the second (1 to 21). */
export function contrast(fg, bg) {
  const under = parseColour(bg) || [255, 255, 255, 1];
  const back = composite(under, [255, 255, 255]);
  const front = composite(parseColour(fg) || [0, 0, 0, 1], back);
  const [hi, lo] = [luminance(front), luminance(back)].sort((a, b) => b - a);
  return (hi + 0.05) / (lo + 0.05);
}

/** `a` mixed with `b`, `share` of `a` (0-1), as rgb(): the alpha of both is flattened over `over`. */
export function mix(a, b, share, over = "#ffffff") {
  const base = composite(parseColour(over) || [255, 255, 255, 1], [255, 255, 255]);
  const ca = composite(parseColour(a) || [0, 0, 0, 1], base);
  const cb = composite(parseColour(b) || [0, 0, 0, 1], base);
  const v = ca.map((x, i) => Math.round(x * share + cb[i] * (1 - share)));
  return `rgb(${v[0]}, ${v[1]}, ${v[2]})`;
}

/**
 * The theme's colours from a style declaration (getComputedStyle of the widget's root): {fg, fg2, bg, bg1, border,
 * border2, error, warning, dark}. Pure given `style`; a variable that is empty takes its light default.
 */
export function themeFrom(style) {
  const theme = {};
  for (const [key, [name, fallback]] of Object.entries(THEME_VARS)) {
    const value = style && style.getPropertyValue ? style.getPropertyValue(name).trim() : "";
    theme[key] = value && parseColour(value) ? value : fallback;
  }
  const bg = composite(parseColour(theme.bg), [255, 255, 255]);
  theme.dark = luminance(bg) < 0.2;
  // an error colour on this background, moved towards the text colour until it reads (4.5:1)
  theme.warning = readable(theme.error, theme.fg, theme.bg);
  return theme;
}

/** `colour`, or the first mix of it with `towards` that has a contrast of 4.5:1 on `bg`. */
export function readable(colour, towards, bg) {
  for (let share = 1; share >= 0; share -= 0.1) {
    const c = share === 1 ? colour : mix(colour, towards, share, bg);
    if (contrast(c, bg) >= 4.5) return c;
  }
  return towards;
}

/** The theme of the widget at `node`, from its resolved CSS variables. */
export function readTheme(node, getStyle = typeof getComputedStyle === "function" ? getComputedStyle : null) {
  return themeFrom(getStyle && node ? getStyle(node) : null);
}

/** A Vega(-Lite) config that draws guides, titles and text marks in the theme's colours. */
export function vegaConfig(theme) {
  const guide = { labelColor: theme.fg, titleColor: theme.fg };
  return {
    background: theme.bg,
    axis: { ...guide, domainColor: theme.border, tickColor: theme.border, gridColor: theme.border2 },
    legend: { ...guide },
    header: { ...guide },
    title: { color: theme.fg, subtitleColor: theme.fg2 },
    view: { stroke: theme.border },
    text: { color: theme.fg },
  };
}

function isObject(v) {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** `base` with `over` deep-merged on top (objects merged, anything else from `over`). */
export function mergeConfig(base, over) {
  if (!isObject(over)) return base;
  const out = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = isObject(v) && isObject(out[k]) ? mergeConfig(out[k], v) : v;
  return out;
}

/** The spec's explicit ink colours (near-black text and rules, white strokes, the warning red) in theme colours. */
export function recolour(node, theme, inColour = false, key = "") {
  if (Array.isArray(node)) return node.map((v) => recolour(v, theme, inColour, key));
  if (isObject(node)) {
    const out = {};
    for (const [k, v] of Object.entries(node)) {
      out[k] = NOT_STYLE.has(k) ? v : recolour(v, theme, inColour || COLOUR_KEYS.has(k), COLOUR_KEYS.has(k) ? k : key);
    }
    return out;
  }
  if (!inColour || typeof node !== "string") return node;
  const c = node.trim().toLowerCase();
  if (INK.has(c)) return theme.fg;
  if (PAPER.has(c) && key === "stroke") return theme.bg;
  if (WARNING.has(c)) return theme.warning;
  return node;
}

/** A Vega-Lite spec drawn in `theme`: its explicit colours recoloured, the theme's config under its own. */
export function themedSpec(spec, theme) {
  const out = recolour(spec, theme);
  out.config = mergeConfig(vegaConfig(theme), out.config);
  return out;
}

/** A short fingerprint of a theme, to tell whether it changed. */
export function themeKey(theme) {
  return Object.keys(THEME_VARS).map((k) => theme[k]).join("|");
}

/**
 * Calls `onChange(theme)` when the theme resolved at `root` changes: JupyterLab marks a switch on <body>
 * (data-jp-theme-light, data-jp-theme-name) and VS Code in its class (vscode-dark, vscode-light); the new
 * stylesheet may arrive a little later, so the colours are read again for a while after each mark.
 */
export class ThemeWatcher {
  constructor(root, onChange, { delays = [0, 60, 250, 700, 1500, 3000] } = {}) {
    this.root = root;
    this.onChange = onChange;
    this.delays = delays;
    this.timers = [];
    this.theme = null;
    this.key = null; // nothing drawn yet: nothing to redraw until current() is first asked
    const body = typeof document !== "undefined" ? document.body : null;
    this.observer = null;
    if (body && typeof MutationObserver !== "undefined") {
      this.observer = new MutationObserver(() => this.soon());
      this.observer.observe(body, {
        attributes: true,
        attributeFilter: ["class", "data-jp-theme-light", "data-jp-theme-name", "data-vscode-theme-kind"],
      });
      // VS Code sets its --vscode-* variables in the style of <html>
      if (document.documentElement) {
        this.observer.observe(document.documentElement, { attributes: true, attributeFilter: ["style", "class"] });
      }
    }
  }

  /** The theme now; records it as the one drawn. */
  current() {
    this.theme = readTheme(this.root);
    this.key = themeKey(this.theme);
    return this.theme;
  }

  /** Read the colours again; call onChange when they differ from the ones drawn. */
  check() {
    if (!this.root || this.key === null) return;
    const theme = readTheme(this.root);
    const key = themeKey(theme);
    if (key === this.key) return;
    this.theme = theme;
    this.key = key;
    this.onChange(theme);
  }

  soon() {
    for (const t of this.timers) clearTimeout(t);
    this.timers = this.delays.map((ms) => setTimeout(() => this.check(), ms));
  }

  disconnect() {
    if (this.observer) this.observer.disconnect();
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
    this.root = null;
  }
}
