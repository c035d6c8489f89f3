"""Thumbnail page speed: 100 Fashion-MNIST (or digits) images as 64 px PNGs.

Prints the time per page and its ratio to a baseline in the same run: PIL encoding the same 100 images at
their native size with default settings. Target (DESIGN.md section 5): a page under 50 ms.

    python benchmarks/bench_thumbnails.py
"""

from __future__ import annotations

import io
import statistics
import time

import numpy as np
from PIL import Image

from difficulty_widget.data import DatasetNotFoundError, load_digits, load_fashion_mnist, thumbnails


def timed(fn, repeats: int = 30) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    try:
        data = load_fashion_mnist("test")
    except DatasetNotFoundError:
        data = load_digits()
    rng = np.random.default_rng(0)
    ids = rng.choice(len(data), 100, replace=False)

    def baseline() -> None:
        for i in ids:
            Image.fromarray(data.images[i]).save(io.BytesIO(), format="PNG")

    base = timed(baseline)
    page = timed(lambda: thumbnails(data.images, ids, size=64))
    print(f"{data!r}")
    print(f"PIL native-size PNG (baseline)   {base * 1e3:6.2f} ms   1.00x")
    print(f"thumbnails(100, size=64)         {page * 1e3:6.2f} ms   {page / base:.2f}x   (target < 50 ms)")


if __name__ == "__main__":
    main()
