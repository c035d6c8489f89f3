"""GPU check (one CUDA device, under 5 minutes on an H200): extraction speed and the exact k-NN engine at scale.

1. Extraction: a random-init torchvision ResNet-50 at 224 px over 2048 images of random data (batch 256) with
   ``difficulty_widget.extract.extract(model, (x, y), probes=None, device=...)``: images per second.
2. Exact k-NN: ``nearest_neighbours(query, support, k=30, device=..., precision=p)`` of 50,000 queries against
   1,280,000 x 2048 synthetic support points (clustered, of low intrinsic dimension, ReLU-like, made with torch on
   the device and moved to host numpy float32, as the engine takes numpy) for ``p`` in ``bf16`` (tensor cores) and
   ``fp32``: wall time, the rows proven by the first search, left to float32, widened and sent to the float64
   pass, against the bare float32 and bfloat16 matrix products of the same shapes on the device (TF32 off, as in
   the engine), and for each precision a sample of 200 query rows checked against a float64 brute force on the
   device (``sum((s - q)^2)``, stable sort) for identical neighbours in the same order.

Prints a compact summary table at the end. Without a CUDA GPU it prints one line and exits with code 0, unless
``--device cpu --small`` is given: tiny shapes, to check the script itself anywhere.

    python benchmarks/gpu_check.py [--device cuda] [--small]
"""

from __future__ import annotations

import argparse
import sys
import time
from functools import partial

import numpy as np
import torch

FULL = {"images": 2048, "px": 224, "batch": 256, "queries": 50_000, "support": 1_280_000, "dim": 2048, "sample": 200}
SMALL = {"images": 8, "px": 32, "batch": 4, "queries": 400, "support": 6_000, "dim": 96, "sample": 40}
K = 30
NO_GPU = "no CUDA GPU: gpu_check needs one (torch.cuda.is_available() is False)"


def sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def timed(fn, dev: torch.device) -> tuple[object, float]:
    sync(dev)
    started = time.perf_counter()
    out = fn()
    sync(dev)
    return out, time.perf_counter() - started


def extraction(sizes: dict, dev: torch.device) -> tuple[float, float]:
    """(seconds, images per second) of one extraction pass of a random-init ResNet-50."""
    import torchvision

    from difficulty_widget.extract import extract

    torch.manual_seed(0)
    model = torchvision.models.resnet50(weights=None)
    x = torch.rand(sizes["images"], 3, sizes["px"], sizes["px"])
    y = torch.randint(0, 1000, (sizes["images"],))
    batch = sizes["batch"]
    extract(model, (x[:batch], y[:batch]), probes=None, device=dev, batch_size=batch, progress=False)  # warm-up
    _, seconds = timed(lambda: extract(model, (x, y), probes=None, device=dev, batch_size=batch, progress=False), dev)
    return seconds, sizes["images"] / seconds


def synthetic(n: int, d: int, dev: torch.device, seed: int, n_clusters: int = 1000, latent: int = 32) -> np.ndarray:
    """ReLU-like float32 rows with the low intrinsic dimension of real activations: per cluster a centre plus a
    ``latent``-dimensional Gaussian in a random subspace, a little isotropic noise, then ReLU. The clusters are the
    same for every call; rows are made on ``dev`` in blocks and moved to host memory."""
    centres_gen = torch.Generator(device=dev).manual_seed(1234)
    centres = torch.randn(n_clusters, d, device=dev, generator=centres_gen)
    basis = torch.randn(n_clusters, latent, d, device=dev, generator=centres_gen) / latent**0.5
    gen = torch.Generator(device=dev).manual_seed(seed)
    out = np.empty((n, d), dtype=np.float32)
    step = max(1, 2**21 // d)
    for i in range(0, n, step):
        m = min(step, n - i)
        label = torch.randint(0, n_clusters, (m,), device=dev, generator=gen)
        z = torch.randn(m, 1, latent, device=dev, generator=gen)
        x = centres[label] + torch.bmm(z, basis[label])[:, 0] + 0.05 * torch.randn(m, d, device=dev, generator=gen)
        out[i : i + m] = torch.relu(x).cpu().numpy()
    return out


def bare_matmuls(query: np.ndarray, support_dev: torch.Tensor, dev: torch.device, dtype=torch.float32) -> float:
    """Seconds of the products query x support^T alone in ``dtype`` (TF32 off), in the engine's block shapes."""
    from difficulty_widget.measures.knn import _DEVICE_BLOCK_DISTANCES, _DEVICE_CHUNK_ROWS, _ieee_float32

    rows = min(len(query), max(_DEVICE_CHUNK_ROWS, _DEVICE_BLOCK_DISTANCES // len(support_dev)))
    width = max(1, _DEVICE_BLOCK_DISTANCES // rows)
    out = torch.empty(rows * width, dtype=dtype, device=dev)
    q_dev = torch.from_numpy(query).to(dev, dtype)
    s_dev = support_dev.to(dtype)

    def run() -> None:
        for start in range(0, len(q_dev), rows):
            q = q_dev[start : start + rows]
            for lo in range(0, len(s_dev), width):
                s = s_dev[lo : lo + width]
                torch.mm(q, s.T, out=out[: len(q) * len(s)].view(len(q), len(s)))

    with _ieee_float32():
        run()  # warm-up (kernels chosen, memory allocated)
        _, seconds = timed(run, dev)
    return seconds


def brute_force(query: np.ndarray, support_dev: torch.Tensor, rows: np.ndarray, dev: torch.device) -> tuple:
    """For each sampled query row: the K nearest by (float64 sum((s - q)^2), index), every support point."""
    step = max(1, 2**27 // support_dev.shape[1])
    indices, dists = [], []
    for row in rows:
        q = torch.from_numpy(query[row]).to(dev).double()
        d = torch.empty(len(support_dev), dtype=torch.float64, device=dev)
        for lo in range(0, len(support_dev), step):
            diff = support_dev[lo : lo + step].double() - q
            d[lo : lo + step] = (diff * diff).sum(dim=1)
        order = torch.sort(d, stable=True).indices[:K]
        indices.append(order.cpu().numpy())
        dists.append(d[order].cpu().numpy())
    return np.array(indices), np.array(dists)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda", help="torch device (default cuda)")
    parser.add_argument("--small", action="store_true", help="tiny shapes (a smoke test of this script)")
    args = parser.parse_args()
    dev = torch.device(args.device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        print(NO_GPU)
        return 0
    if dev.type != "cuda" and not args.small:
        if not torch.cuda.is_available():
            print(NO_GPU)
            return 0
        parser.error("the full sizes need a CUDA device: use --device cpu --small for the smoke mode")
    sizes = SMALL if args.small else FULL
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    print(f"gpu_check on {dev} ({name}), sizes {'small' if args.small else 'full'}: {sizes}", flush=True)

    from difficulty_widget.measures import nearest_neighbours

    t_extract, images_per_s = extraction(sizes, dev)
    print(f"extraction: {t_extract:.1f} s, {images_per_s:.0f} images/s", flush=True)

    (support, query), t_data = timed(
        lambda: (synthetic(sizes["support"], sizes["dim"], dev, 1), synthetic(sizes["queries"], sizes["dim"], dev, 2)),
        dev,
    )
    print(f"data: {support.shape} support, {query.shape} queries, float32 on the host ({t_data:.1f} s)", flush=True)
    support_dev = torch.from_numpy(support).to(dev)
    t_floor = bare_matmuls(query, support_dev, dev)
    t_floor16 = bare_matmuls(query, support_dev, dev, torch.bfloat16)
    print(f"bare matmuls: float32 {t_floor:.1f} s, bfloat16 {t_floor16:.1f} s", flush=True)
    rows = np.sort(np.random.default_rng(0).choice(len(query), sizes["sample"], replace=False))
    (want_idx, want_d), t_brute = timed(partial(brute_force, query, support_dev, rows, dev), dev)
    del support_dev
    shape = f"{len(query)} x {len(support)} x {sizes['dim']}, k={K}"
    table = [
        ("extraction", f"ResNet-50 {sizes['px']} px, {sizes['images']} images, batch {sizes['batch']}",
         f"{t_extract:.1f} s", f"{images_per_s:.0f} images/s"),
        ("matmul floor", "bare float32 / bfloat16 products, same shapes", f"{t_floor:.1f} s",
         f"bfloat16 {t_floor16:.1f} s"),
    ]  # fmt: skip
    passed = True
    for precision in ("bf16", "fp32"):
        nearest_neighbours(query[:256], support[:65_536], K, device=dev, precision=precision)  # warm-up
        nn, t_knn = timed(lambda p=precision: nearest_neighbours(query, support, K, device=dev, precision=p), dev)
        n = len(query)
        rates = (f"first {nn.first_rows / n:.2%}, to fp32 {nn.rechecked_rows / n:.2%}, widened "
                 f"{nn.widened_rows / n:.2%}, fp64 {nn.fallback_rows / n:.3%}")  # fmt: skip
        same = (nn.indices[rows] == want_idx).all(axis=1)
        close = np.isclose(nn.sq_distances[rows], want_d, rtol=1e-12, atol=0).all(axis=1)
        ok = bool(same.all() and close.all())
        passed &= ok
        print(f"k-NN {precision} ({nn.precision}): {t_knn:.1f} s ({t_knn / t_floor:.2f} of the float32 floor), "
              f"{rates}; sample check {'passed' if ok else 'FAILED'} ({int(same.sum())}/{len(rows)} rows "
              f"identical, {int(close.sum())} with equal float64 distances)", flush=True)  # fmt: skip
        table += [
            (f"k-NN {precision}", shape, f"{t_knn:.1f} s", f"{t_knn / t_floor:.2f} x fp32 floor; {rates}"),
            (f"check {precision}", f"{len(rows)} rows vs float64 brute force", f"{t_brute:.1f} s",
             "passed" if ok else "FAILED"),
        ]  # fmt: skip
    print(f"\nsummary ({dev}, {name})")
    for row in table:
        print(f"  {row[0]:13s} {row[1]:44s} {row[2]:>9s}   {row[3]}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
