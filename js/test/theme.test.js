import assert from "node:assert/strict";
import { test } from "node:test";
import { compile } from "vega-lite";
import {
  contrast,
  mergeConfig,
  parseColour,
  readable,
  recolour,
  themeFrom,
  ThemeWatcher,
  themeKey,
  themedSpec,
  vegaConfig,
} from "../src/theme.js";

const style = (vars) => ({ getPropertyValue: (name) => vars[name] || "" });
// the values JupyterLab's light and dark themes resolve the Explorer's variables to
const LIGHT = style({ "--dw-fg": "rgba(0, 0, 0, 0.87)", "--dw-fg2": "rgba(0, 0, 0, 0.54)", "--dw-bg": "white",
  "--dw-bg1": "white", "--dw-border": "#bdbdbd", "--dw-border2": "#e0e0e0", "--dw-error": "#d32f2f" }); // prettier-ignore
const DARK = style({ "--dw-fg": "rgba(255, 255, 255, 0.87)", "--dw-fg2": "rgba(255, 255, 255, 0.54)",
  "--dw-bg": "#111", "--dw-bg1": "#212121", "--dw-border": "#616161", "--dw-border2": "#424242",
  "--dw-error": "#f44336" }); // prettier-ignore

test("colours parse from hex, rgb(a) and names", () => {
  assert.deepEqual(parseColour("#fff"), [255, 255, 255, 1]);
  assert.deepEqual(parseColour("#11223380").slice(0, 3), [17, 34, 51]);
  assert.deepEqual(parseColour("rgba(255, 255, 255, 0.87)"), [255, 255, 255, 0.87]);
  assert.deepEqual(parseColour("rgb(10 20 30 / 50%)"), [10, 20, 30, 0.5]);
  assert.deepEqual(parseColour("white"), [255, 255, 255, 1]);
  assert.equal(parseColour("not a colour"), null);
});

test("contrast follows WCAG 2.x, with translucent text painted over its background", () => {
  assert.equal(contrast("#000", "#fff").toFixed(1), "21.0");
  assert.equal(contrast("#fff", "#fff").toFixed(1), "1.0");
  assert.ok(Math.abs(contrast("#767676", "#ffffff") - 4.54) < 0.02);
  // black at 87% on dark grey is hardly any lighter than black: still unreadable
  assert.ok(contrast("rgba(0, 0, 0, 0.87)", "#111") < 1.5);
});

test("the theme is read from the resolved variables, with light defaults when none resolve", () => {
  const light = themeFrom(LIGHT);
  const dark = themeFrom(DARK);
  const none = themeFrom(style({}));
  assert.equal(light.dark, false);
  assert.equal(dark.dark, true);
  assert.equal(none.dark, false);
  assert.equal(none.fg, "#222222");
  assert.equal(dark.bg, "#111");
  assert.notEqual(themeKey(light), themeKey(dark));
  // the warning colour reads on its background in both themes, though JupyterLab's dark red does not (4.4:1 on #212121)
  for (const t of [light, dark, none]) assert.ok(contrast(t.warning, t.bg) >= 4.5, t.warning);
  assert.ok(contrast(readable("#f44336", "#ffffff", "#212121"), "#212121") >= 4.5);
});

test("the Vega config colours every guide and text mark with the theme", () => {
  const dark = themeFrom(DARK);
  const config = vegaConfig(dark);
  assert.equal(config.background, "#111");
  for (const part of [config.axis, config.legend]) {
    assert.equal(part.labelColor, dark.fg);
    assert.equal(part.titleColor, dark.fg);
  }
  assert.equal(config.axis.domainColor, dark.border);
  assert.equal(config.title.color, dark.fg);
  assert.equal(config.text.color, dark.fg);
  assert.equal(config.view.stroke, dark.border);
  for (const key of ["labelColor", "titleColor"]) assert.ok(contrast(config.axis[key], config.background) >= 4.5);
});

test("a spec's own config wins over the theme's; ink colours and the warning red take theme colours", () => {
  const dark = themeFrom(DARK);
  const spec = {
    data: { values: [{ c: "#222222" }] },
    mark: { type: "line", color: "#222222" },
    encoding: {
      color: { condition: { test: "true", value: "#333333" }, value: "#4c78a8" },
      stroke: { value: "white" },
    },
    layer: [{ mark: { type: "text", color: "#333333" } }],
    title: { text: "t", subtitleColor: "#b4402a" },
    config: { axis: { labelColor: "red" }, view: { continuousWidth: 300 } },
  };
  const out = themedSpec(spec, dark);
  assert.equal(out.mark.color, dark.fg);
  assert.equal(out.layer[0].mark.color, dark.fg);
  assert.equal(out.encoding.color.condition.value, dark.fg);
  assert.equal(out.encoding.color.value, "#4c78a8"); // a data colour stays
  assert.equal(out.encoding.stroke.value, dark.bg);
  assert.equal(out.title.subtitleColor, dark.warning);
  assert.equal(out.data.values[0].c, "#222222"); // data is not style
  assert.equal(out.config.axis.labelColor, "red");
  assert.equal(out.config.axis.titleColor, dark.fg);
  assert.equal(out.config.view.continuousWidth, 300);
  assert.equal(out.config.view.stroke, dark.border);
  assert.equal(spec.mark.color, "#222222"); // the spec itself is left as it was
  assert.deepEqual(mergeConfig({ a: { b: 1 } }, undefined), { a: { b: 1 } });
  assert.equal(recolour("#222222", dark), "#222222"); // outside a colour key, a string is kept
});

test("the watcher redraws once per new theme, only after a first draw, and not after disconnect", () => {
  let vars = LIGHT;
  const saved = globalThis.getComputedStyle;
  globalThis.getComputedStyle = () => vars;
  try {
    const calls = [];
    const watcher = new ThemeWatcher({}, (theme) => calls.push(theme.dark));
    vars = DARK;
    watcher.check(); // nothing drawn yet
    assert.deepEqual(calls, []);
    assert.equal(watcher.current().dark, true);
    watcher.check();
    assert.deepEqual(calls, []);
    vars = LIGHT;
    watcher.check();
    watcher.check();
    assert.deepEqual(calls, [false]);
    watcher.disconnect();
    vars = DARK;
    watcher.check();
    assert.deepEqual(calls, [false]);
  } finally {
    globalThis.getComputedStyle = saved;
  }
});

test("a themed spec compiles to Vega with the theme's background and axis colours", () => {
  const dark = themeFrom(DARK);
  const spec = { data: { name: "instances" }, mark: "point", encoding: { x: { field: "a", type: "quantitative" } } };
  const vg = compile(themedSpec(spec, dark)).spec;
  assert.equal(vg.background, "#111");
  assert.equal(vg.config.axis.labelColor, dark.fg);
  assert.equal(vg.config.style["group-title"].fill, dark.fg); // Vega-Lite turns title.color into this style
});
