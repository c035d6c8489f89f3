"""Explorer front-end speed in headless Chromium: first render, brush -> gallery latency, bytes sent.

Loads the real bundle on a bare localhost page (``widget_harness.py``: no Jupyter, so kernel round trips
are not counted; the gallery filters in the browser) for an Explorer over N instances with 10 score columns
and 28x28 thumbnails (Fashion-MNIST when installed, else synthetic images), then:

- first render: from calling ``render`` to every chart and the gallery drawn;
- brush -> gallery: a mouse drag over the scatter, 40 moves; for each move, the time from the pointer event
  to the gallery's next redraw (median and p95);
- table bytes: the Arrow IPC table against the same columns as Vega-Lite inline JSON (``data.values``),
  the baseline measured in the same run.

Targets (DESIGN.md section 5): first render < 2 s, brush -> gallery median < 100 ms, bytes <= 1/3 of JSON.

    python benchmarks/bench_widget.py [--n 70000] [--n 1000000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))

from widget_harness import serve

from difficulty_widget import Analysis, Explorer
from difficulty_widget.measures import model_scores

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip

LATENCY_PROBE = """() => {
  window.__moves = []; window.__draws = [];
  window.addEventListener('pointermove', () => window.__moves.push(performance.now()), true);
  new MutationObserver(() => window.__draws.push(performance.now()))
    .observe(document.querySelector('.dw-spacer'), { childList: true });
}"""


PIXELS = """(points) => {
  const box = document.querySelector("[data-chart='scatter']"), view = box.__view;
  const canvas = box.querySelector("canvas:not(.dw-points)").getBoundingClientRect();
  const [ox, oy] = view.origin(), pad = view.padding();
  const sx = view.scale("x"), sy = view.scale("y");
  return points.map(([x, y]) => [canvas.x + pad.left + ox + sx(x), canvas.y + pad.top + oy + sy(y)]);
}"""


def synthetic_analysis(n: int, seed: int = 0) -> tuple[Analysis, np.ndarray]:
    """N instances, 10 classes, model scores from noisy logits plus extra score columns (10 scores in all)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    logits = rng.normal(size=(n, 10)).astype(np.float32)
    logits[np.arange(n), labels] += rng.gamma(2.0, 1.5, n).astype(np.float32)
    frame = pd.concat([pd.DataFrame({"id": np.arange(n), "label": labels}), model_scores(logits, labels)], axis=1)
    for name in ("prediction_depth", "knn_agreement", "human_agreement", "aum"):
        frame[name] = rng.random(n)
    try:
        from difficulty_widget.data import load_fashion_mnist

        images = load_fashion_mnist("all").images
        images = images[np.arange(n) % len(images)]
    except Exception:
        images = rng.integers(0, 256, (min(n, 70000), 28, 28), dtype=np.uint8)[np.arange(n) % min(n, 70000)]
    class_names = [f"class {i}" for i in range(10)]
    return Analysis(frame, class_names), images


def measure(n: int) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    analysis, images = synthetic_analysis(n)
    explorer = Explorer(analysis, images=images, x="confidence", y="margin")
    columns = [c for c in analysis.df.columns if c not in ("label_name",)]
    inline = json.dumps({"values": json.loads(analysis.df[columns].to_json(orient="records"))}).encode()
    url, server = serve(explorer)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_FLAGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url)
            page.wait_for_function("() => window.__rendered !== undefined", timeout=600_000)
            rendered = page.evaluate("window.__rendered")
            page.evaluate(LATENCY_PROBE)
            # drag from the dense middle of the data outwards, so that every move changes the selection
            q = analysis.df[["confidence", "margin"]].quantile([0.2, 0.8])
            start, end = page.evaluate(PIXELS, [[q.confidence[0.2], q.margin[0.8]], [q.confidence[0.8], q.margin[0.2]]])
            page.mouse.move(*start)
            page.mouse.down()
            for step in range(1, 41):
                t = step / 40
                page.mouse.move(start[0] + (end[0] - start[0]) * t, start[1] + (end[1] - start[1]) * t)
                page.wait_for_timeout(30)
            page.mouse.up()
            page.wait_for_timeout(1500)
            moves, draws = page.evaluate("[window.__moves, window.__draws]")
            browser.close()
    finally:
        server.shutdown()
    # a move's latency: from the event to the first gallery redraw before the next move (a move that changed
    # nothing visible has none and is not counted)
    latencies = []
    for t, t_next in zip(moves, [*moves[1:], float("inf")], strict=True):
        within = [d for d in draws if t <= d < t_next]
        if within:
            latencies.append(within[0] - t)
    return {
        "n": n,
        "first_render_ms": rendered,
        "brush_median_ms": statistics.median(latencies) if latencies else float("nan"),
        "brush_p95_ms": float(np.percentile(latencies, 95)) if latencies else float("nan"),
        "brush_events": len(moves),
        "gallery_updates": len(latencies),
        "table_bytes": len(explorer._table),
        "inline_json_bytes": len(inline),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, action="append", help="instances (repeatable); default 70000")
    args = parser.parse_args()
    for n in args.n or [70000]:
        r = measure(n)
        print(f"n = {r['n']}")
        print(f"  first render                 {r['first_render_ms']:8.0f} ms      (target < 2000)")
        print(
            f"  brush -> gallery median/p95  {r['brush_median_ms']:8.1f} / {r['brush_p95_ms']:.1f} ms "
            f"over {r['brush_events']} moves, {r['gallery_updates']} with a redraw (target median < 100)"
        )
        ratio = r["table_bytes"] / r["inline_json_bytes"]
        print(
            f"  table bytes: Arrow {r['table_bytes'] / 1e6:.2f} MB vs inline JSON {r['inline_json_bytes'] / 1e6:.2f} MB"
            f" (baseline)  ratio {ratio:.2f}  (target <= 0.33)"
        )


if __name__ == "__main__":
    main()
