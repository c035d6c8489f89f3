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

from widget_harness import drag, launch, rendered_page, serve

from difficulty_widget import Analysis, Explorer
from difficulty_widget.measures import model_scores


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
            browser = launch(pw)
            page = rendered_page(browser, url)
            rendered = page.evaluate("window.__rendered")
            # drag from the dense middle of the data outwards, so that every move changes the selection
            q = analysis.df[["confidence", "margin"]].quantile([0.2, 0.8])
            start, end = (q.confidence[0.2], q.margin[0.8]), (q.confidence[0.8], q.margin[0.2])
            latencies, n_moves = drag(page, "scatter", start, end)
            browser.close()
    finally:
        server.shutdown()
    return {
        "n": n,
        "first_render_ms": rendered,
        "brush_median_ms": statistics.median(latencies) if latencies else float("nan"),
        "brush_p95_ms": float(np.percentile(latencies, 95)) if latencies else float("nan"),
        "brush_events": n_moves,
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
