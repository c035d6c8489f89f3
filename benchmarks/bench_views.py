"""Explorer views in headless Chromium: projection, flow and the full default Explorer, each against a baseline.

Same page as ``bench_widget.py`` (``widget_harness.py``: the real bundle, no Jupyter) over N instances with
``bench_widget.synthetic_analysis`` (Fashion-MNIST images when installed, else synthetic), plus ``proj_x/proj_y``
from ``add_projection`` (seeded PCA of the flattened images) and a synthetic ``layer_agreement`` /
``layer_vote_matches`` pair for 6 probes (agreement rising with depth, lower for high-loss instances, k-NN-like
steps of 1/30, noise, ~3% NaN). Every time is a ratio against a baseline measured in the same run:

1. first render, ``views=["projection", "gallery"]`` vs ``["scatter", "gallery"]`` (both points on the canvas
   layer above ``Explorer.vega_points_max``); median over ``--reps`` fresh pages each, configurations alternated;
2. brush -> gallery latency (median, p95), a 40-move drag over the projection vs over the scatter, as in
   ``bench_widget`` (pointer event to the next ``.dw-spacer`` redraw), pooled over the ``--reps`` pages;
3. flow update: ``window.__model.set("selection", <10000 row positions>)`` (what a selection from Python does)
   to the flow chart's ``flow_stats`` holding the new tuples, then one animation frame; ``views=["flow"]`` vs the
   baseline ``views=["histograms"]`` (same update, until every histogram's ``bins_<column>`` holds new tuples).
   Both pages also run the (hidden) gallery's refresh inside the set, as the widget does;
4. first render of the default Explorer (every view that applies) vs
   ``views=["scatter", "confusion", "histograms", "gallery"]``.

Browser console messages and page errors are printed. No assertions on times.

    python benchmarks/bench_views.py [--n 70000] [--reps 5] [--updates 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from bench_widget import synthetic_analysis
from widget_harness import drag, launch, rendered_page, serve

from difficulty_widget import Analysis, Explorer
from difficulty_widget.measures.flow import layer_tables
from difficulty_widget.projection import add_projection

PROBES = [f"block{i}" for i in range(1, 7)]
SELECTION_SIZE = 10_000

# which charts were drawn, and the gallery's count
DRAWN = """() => ({
  charts: [...document.querySelectorAll('[data-chart]')].map((b) => [b.dataset.chart, !!b.__view,
    !!b.querySelector('canvas')]),
  gallery: document.querySelector('.dw-gallery') ? document.querySelector('.dw-gallery').dataset.total : null,
})"""

# set a selection as Python would, wait until every chart's dataset holds new tuples, then one frame
UPDATE = """async ([charts, rows]) => {
  const views = charts.map(([id, name]) => [document.querySelector(`[data-chart='${id}']`).__view, name]);
  const before = views.map(([v, name]) => v.data(name)[0]);
  const tick = () => new Promise((r) => { const c = new MessageChannel(); c.port1.onmessage = () => r();
    c.port2.postMessage(0); });  // a macrotask without setTimeout's 4 ms clamp
  const frame = () => new Promise((r) => requestAnimationFrame(() => r()));
  const positions = Uint32Array.from(rows);
  await frame(); await frame();  // start from a quiet page
  const t0 = performance.now();
  window.__model.set("selection", new DataView(positions.buffer));
  const set = performance.now() - t0;
  const changed = () => views.every(([v, name], k) => {
    const d = v.data(name);
    return d.length && d[0] !== before[k];
  });
  while (!changed()) {
    if (performance.now() - t0 > 30000) return { timeout: true };
    await tick();
  }
  const data = performance.now() - t0;
  await frame();
  const framed = performance.now() - t0;
  const first = views[0][0].data(views[0][1]);
  const selected = first.filter((t) => t.group === "selection" && t.layer === 0).map((t) => t.n);
  return { set, data, frame: framed, n_selection_layer0: selected.length ? selected[0] : null };
}"""


def images_source() -> str:
    try:
        from difficulty_widget.data import load_fashion_mnist

        load_fashion_mnist("all")
        return "Fashion-MNIST"
    except Exception:
        return "synthetic"


def synthetic_flow(analysis: Analysis, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(N, 6) k-NN-like agreement rising with depth, lower for high-loss instances, with noise and ~3% NaN;
    vote matches more likely where agreement is high."""
    rng = np.random.default_rng(seed + 1)
    n, layers = len(analysis), len(PROBES)
    hard = analysis.df["loss"].rank(pct=True).to_numpy()
    depth = (np.arange(layers) / (layers - 1)) ** 0.8
    agreement = 0.15 + 0.8 * depth[None, :] * (1 - 0.7 * hard[:, None]) + rng.normal(0, 0.12, (n, layers))
    agreement = np.round(np.clip(agreement, 0, 1) * 30) / 30  # k = 30 neighbours
    agreement[rng.random((n, layers)) < 0.03] = np.nan
    matches = rng.random((n, layers)) < 0.3 + 0.65 * np.nan_to_num(agreement, nan=0.5)
    return agreement.astype(np.float32), matches


def build_analysis(n: int) -> tuple[Analysis, np.ndarray, dict[str, float]]:
    timings = {}
    t = time.perf_counter()
    analysis, images = synthetic_analysis(n)
    timings["analysis_s"] = time.perf_counter() - t
    t = time.perf_counter()
    flat = images.reshape(len(images), -1).astype(np.float32) / 255.0
    add_projection(analysis, flat, "pca", probe="pixels", seed=0)
    timings["projection_s"] = time.perf_counter() - t
    agreement, matches = synthetic_flow(analysis)
    for name, table in layer_tables(analysis.df["id"].to_numpy(), agreement, matches, PROBES).items():
        analysis.add_table(name, table)
    return analysis, images, timings


def brush_drag(page: Any, chart: str, df: Any, x: str, y: str) -> tuple[list[float], int, str]:
    """bench_widget's scatter drag on ``chart``: 40 moves from the dense middle outwards; and the gallery's count."""
    q = df[[x, y]].astype(float).quantile([0.2, 0.8])
    lat, moves = drag(page, chart, (q[x][0.2], q[y][0.8]), (q[x][0.8], q[y][0.2]))
    return lat, moves, page.evaluate("document.querySelector('.dw-gallery').dataset.total")


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def run(n: int, reps: int, updates: int) -> None:
    from playwright.sync_api import sync_playwright

    t_start = time.perf_counter()
    load_start = os.getloadavg()
    source = images_source()
    analysis, images, prep = build_analysis(n)
    df = analysis.df
    t = time.perf_counter()
    explorers = {
        "scatter": Explorer(analysis, images=images, views=["scatter", "gallery"]),
        "projection": Explorer(analysis, images=images, views=["projection", "gallery"]),
        "core": Explorer(analysis, images=images, views=["scatter", "confusion", "histograms", "gallery"]),
        "default": Explorer(analysis, images=images),
        "flow": Explorer(analysis, images=images, views=["flow"]),
        "histograms": Explorer(analysis, images=images, views=["histograms"]),
    }
    prep["explorers_s"] = time.perf_counter() - t
    servers = {name: serve(e) for name, e in explorers.items()}
    expected_views = {name: [s["id"] for s in e._specs] for name, e in explorers.items()}
    console: list[tuple[str, str, str]] = []
    render: dict[str, list[float]] = {k: [] for k in ("scatter", "projection", "core", "default")}
    brush: dict[str, list[float]] = {"scatter": [], "projection": []}
    brush_moves: dict[str, int] = {"scatter": 0, "projection": 0}
    brush_totals: dict[str, list[str]] = {"scatter": [], "projection": []}
    drawn: dict[str, Any] = {}
    update: dict[str, list[dict[str, float]]] = {"flow": [], "histograms": []}

    rng = np.random.default_rng(7)
    selections = [np.sort(rng.choice(n, SELECTION_SIZE, replace=False)).astype(np.uint32) for _ in range(updates)]
    layer0 = analysis.tables["layer_agreement"][PROBES[0]].to_numpy()  # ids are positions here
    expected_n = [int(np.isfinite(layer0[s]).sum()) for s in selections]
    update_charts = {
        "flow": [["flow", "flow_stats"]],
        "histograms": [[f"hist_{c}", f"bins_{c}"] for c in explorers["histograms"].histograms],
    }
    n_mismatch = 0

    def open_page(browser: Any, name: str) -> Any:
        def listen(page: Any) -> None:
            page.on("console", lambda m: console.append((name, m.type, f"{m.text} ({m.location.get('url', '')})")))
            page.on("pageerror", lambda e: console.append((name, "pageerror", str(e))))

        return rendered_page(browser, servers[name][0], on_page=listen)

    try:
        with sync_playwright() as pw:
            browser = launch(pw)
            for rep in range(reps):
                # alternate each configuration with its baseline, so that a change in load hits both alike
                for name in ("scatter", "projection", "core", "default"):
                    page = open_page(browser, name)
                    render[name].append(page.evaluate("window.__rendered"))
                    if rep == 0:
                        drawn[name] = page.evaluate(DRAWN)
                    if name in brush:
                        x, y = ("confidence", "margin") if name == "scatter" else ("proj_x", "proj_y")
                        lat, moves, total = brush_drag(page, name, df, x, y)
                        brush[name] += lat
                        brush_moves[name] += moves
                        brush_totals[name].append(total)
                    page.close()
            for name in ("flow", "histograms"):
                page = open_page(browser, name)
                drawn[name] = page.evaluate(DRAWN)
                for rows, want in zip(selections, expected_n, strict=True):
                    r = page.evaluate(UPDATE, [update_charts[name], rows.tolist()])
                    if r.get("timeout"):
                        console.append((name, "bench", "update timed out (30 s): data never changed"))
                        continue
                    if name == "flow" and r["n_selection_layer0"] != want:
                        n_mismatch += 1
                    update[name].append(r)
                page.close()
            browser.close()
    finally:
        for _, server in servers.values():
            server.shutdown()

    load_end = os.getloadavg()
    wall = time.perf_counter() - t_start

    print(f"n = {n}, images: {source}, {reps} page(s) per render configuration, {os.cpu_count()} CPUs")
    print(f"load average (1/5/15 min): start {load_start[0]:.2f}/{load_start[1]:.2f}/{load_start[2]:.2f}, "
          f"end {load_end[0]:.2f}/{load_end[1]:.2f}/{load_end[2]:.2f}")  # fmt: skip
    print(f"python setup: analysis {prep['analysis_s']:.1f} s, add_projection (PCA of {images[0].size} pixels) "
          f"{prep['projection_s']:.1f} s, 6 Explorers {prep['explorers_s']:.1f} s")  # fmt: skip
    print()
    print(f"{'measure':46s} {'view':>10s} {'baseline':>10s} {'ratio':>6s}")

    def row(label: str, value: float, base: float) -> None:
        print(f"{label:46s} {value:8.1f}ms {base:8.1f}ms {value / base:6.2f}")

    row("1. first render: projection vs scatter", med(render["projection"]), med(render["scatter"]))
    row("2. brush->gallery median: projection vs scatter", med(brush["projection"]), med(brush["scatter"]))
    row("   brush->gallery p95", pct(brush["projection"], 95), pct(brush["scatter"], 95))
    for key, label in (("data", "data changed"), ("frame", "data + 1 frame"), ("set", "model.set (sync)")):
        flow = med([u[key] for u in update["flow"]])
        hist = med([u[key] for u in update["histograms"]])
        row(f"3. {SELECTION_SIZE} selected, flow vs hists: {label}", flow, hist)
    row("4. first render: default Explorer vs core 4", med(render["default"]), med(render["core"]))
    print()
    for name in ("scatter", "projection", "core", "default"):
        print(f"  render {name:10s} per page: " + ", ".join(f"{v:.0f}" for v in render[name]) + " ms")
    for name in ("scatter", "projection"):
        print(f"  brush {name:10s}: {len(brush[name])} gallery redraws over {brush_moves[name]} moves; "
              f"gallery total after each drag {brush_totals[name]}")  # fmt: skip
    for name in ("flow", "histograms"):
        frames = [u["frame"] for u in update[name]]
        print(f"  update {name:10s} data+frame per selection: " + ", ".join(f"{v:.0f}" for v in frames) + " ms"
              + (f" (charts {[c for c, _ in update_charts[name]]})" if name == "histograms" else ""))  # fmt: skip
    print(f"  flow selection group n at layer 0 matched the expected non-NaN count: "
          f"{len(update['flow']) - n_mismatch}/{len(update['flow'])}")  # fmt: skip
    for name, info in drawn.items():
        got = [c for c, has_view, has_canvas in info["charts"] if has_view and has_canvas]
        missing = [c for c in expected_views[name] if c not in got]
        print(f"  {name:10s} charts drawn {got}, gallery total {info['gallery']}"
              + (f"  MISSING {missing}" if missing else ""))  # fmt: skip
    print()
    if console:
        print(f"browser console / page errors ({len(console)} messages, distinct below):")
        for (name, kind, text), count in Counter(console).items():
            print(f"  [{name}] {kind} x{count}: {text[:300]}")
    else:
        print("browser console / page errors: none")
    print(f"total {wall:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=70000, help="instances (default 70000)")
    parser.add_argument("--reps", type=int, default=5, help="pages per render configuration (default 5)")
    parser.add_argument("--updates", type=int, default=10, help="selections per flow / histograms page")
    args = parser.parse_args()
    run(args.n, args.reps, args.updates)


if __name__ == "__main__":
    main()
