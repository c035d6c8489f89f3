"""One pass of a torch model over a dataset: logits, labels, predictions and probe embeddings."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, SequentialSampler
from tqdm.auto import tqdm

from .._validation import check_labels, to_numpy
from ..data.images import ImageData
from ..data.torch_dataset import ImageArrayDataset
from .plan import ExtractionPlan, plan_extraction
from .probes import ProbeSpec, reduce_embedding
from .trace import first_tensor


@dataclass
class Extraction:
    """What one pass of a model over a dataset produced.

    Attributes
    ----------
    logits : float32 (N, C).
    labels : int64 (N,).
    predictions : int64 (N,), argmax of the logits (ties to the lower class index).
    probes : probe name -> float32 (N, d_l) embedding, in probe order (input first, logits last).
    reductions : probe name -> {"shape": per-instance shape, "dim": d_l, "pooled": bool}.
    """

    logits: np.ndarray
    labels: np.ndarray
    predictions: np.ndarray
    probes: dict[str, np.ndarray] = field(default_factory=dict)
    reductions: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def probe_names(self) -> list[str]:
        return list(self.probes)

    def __repr__(self) -> str:
        dims = ", ".join(f"{k}: {v.shape[1]}" for k, v in self.probes.items())
        return f"Extraction(n={len(self.labels)}, classes={self.logits.shape[1]}, probes={{{dims}}})"


def pick_device(model: nn.Module, device: str | torch.device | None) -> torch.device:
    """``device`` if given; else where the model's parameters are, or CUDA when available, else the CPU."""
    if device is not None:
        return torch.device(device)
    param = next(iter(model.parameters()), None)
    if param is not None and param.device.type != "cpu":
        return param.device
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def iter_batches(
    data: Any, batch_size: int, *, num_workers: int = 0, pin_memory: bool = False
) -> tuple[int, Iterator[tuple[torch.Tensor, torch.Tensor]]]:
    """(number of instances, iterator of (inputs, labels) batches in dataset order) for any supported input.

    Accepts an :class:`ImageData`, a dataset with a ``batch(start, stop)`` method, a map-style
    ``torch.utils.data.Dataset`` yielding (input, label), an unshuffled ``DataLoader``, or a pair
    ``(inputs, labels)`` of arrays or tensors (uint8 images are scaled to [0, 1]). A dataset is read by a
    ``DataLoader`` with ``num_workers`` workers and ``pin_memory`` (both for a CUDA device).
    """
    if isinstance(data, ImageData):
        data = data.as_dataset()
    if isinstance(data, tuple) and len(data) == 2:
        inputs, labels = data
        if to_numpy(inputs).dtype == np.uint8:
            data = ImageArrayDataset(to_numpy(inputs), check_labels(labels, n=len(inputs)))
        else:
            x = torch.as_tensor(inputs).float()
            y = torch.as_tensor(check_labels(labels, n=len(x)))
            return len(x), ((x[i : i + batch_size], y[i : i + batch_size]) for i in range(0, len(x), batch_size))
    if hasattr(data, "batch") and hasattr(data, "__len__"):
        n = len(data)
        return n, (data.batch(i, min(i + batch_size, n)) for i in range(0, n, batch_size))
    if isinstance(data, DataLoader):
        if not isinstance(data.sampler, SequentialSampler):
            raise ValueError("the DataLoader must not shuffle: extraction keeps the dataset order (shuffle=False)")
        return len(data.dataset), iter(data)
    if isinstance(data, Dataset):
        loader = DataLoader(
            data, batch_size=batch_size, shuffle=False, num_workers=num_workers, pin_memory=pin_memory,
            persistent_workers=False,
        )  # fmt: skip
        return len(data), iter(loader)
    raise ValueError(
        "data must be an ImageData, a torch Dataset, an unshuffled DataLoader or a pair (inputs, labels); "
        f"got {type(data).__name__}"
    )


@torch.no_grad()
def extract(
    model: nn.Module,
    data: Any,
    *,
    probes: str | Sequence[str] | None = None,
    max_probe_dim: int | None = None,
    batch_size: int | None = None,
    memory_budget: int | str | None = None,
    device: str | torch.device | None = None,
    num_workers: int | None = None,
    label_map: np.ndarray | None = None,
    plan: ExtractionPlan | None = None,
    progress: bool = True,
) -> Extraction:
    """Run ``model`` once over ``data`` and collect logits, labels, predictions and probe embeddings.

    Parameters
    ----------
    model : a classifier returning logits (B, C).
    data : see :func:`iter_batches`.
    probes : None (logits only), ``"blocks"`` (the default rule: input, stem, every block, penultimate, logits;
        see :mod:`~difficulty_widget.extract.probes`), ``"top-level"`` (input, every top-level child, logits) or
        a list of names (``"input"``, ``"stem"``, ``"penultimate"``, ``"logits"``, names from
        ``model.named_modules()``). ``"default"`` means ``"blocks"``.
    max_probe_dim : if set, each probe is average-pooled to at most this many values
        (:func:`~difficulty_widget.extract.probes.reduce_embedding`), bounding memory at N x max_probe_dim.
        Pooling happens inside the module's hook: no full-resolution activation outlives its module call.
    batch_size : images per forward pass; None chooses it from ``memory_budget`` and the activation sizes
        of a traced pass (:func:`~difficulty_widget.extract.plan.plan_extraction`).
    memory_budget : bytes (or a string such as ``"1GB"``) the activations of one batch may take (default 768 MiB).
    device : where the model runs (default: see :func:`pick_device`).
    num_workers : DataLoader workers for a torch dataset (default: 4 on CUDA, else 0); memory is pinned on CUDA.
    label_map : optional integer array: the stored label of an item with label ``y`` is ``label_map[y]`` (e.g.
        ImageFolder class indices to the model's ImageNet indices).
    plan : a plan made beforehand by :func:`~difficulty_widget.extract.plan.plan_extraction` (its probes and
        batch size are used; ``probes``, ``max_probe_dim``, ``batch_size`` and ``memory_budget`` are ignored).
    progress : a tqdm bar with the rate and the time left.

    The model runs in eval mode under ``torch.no_grad()``; each module's train/eval mode and the model's
    device are restored afterwards.
    """
    dev = pick_device(model, device)
    if plan is None:
        plan = plan_extraction(
            model, data, probes=probes, max_probe_dim=max_probe_dim, batch_size=batch_size,
            memory_budget=memory_budget, device=dev,
        )  # fmt: skip
    cuda = dev.type == "cuda"
    workers = (4 if cuda else 0) if num_workers is None else int(num_workers)
    n, batches = iter_batches(data, plan.batch_size, num_workers=workers, pin_memory=cuda)
    if n == 0:
        raise ValueError("data is empty: expected at least one instance")
    specs = plan.probes
    max_dim = plan.max_probe_dim
    n_classes = plan.n_classes
    logits = np.empty((n, n_classes), dtype=np.float32)
    labels = np.empty(n, dtype=np.int64)
    out = {spec.name: np.empty((n, spec.reduced_dim(max_dim)), dtype=np.float32) for spec in specs}
    window = [0, 0]  # rows of the batch in flight: the hooks write their probe there
    handles = _register(model, specs, out, window, max_dim)
    try:
        with evaluating(model, dev):
            start = 0
            bar = tqdm(total=n, desc="extract", unit="img", disable=not progress, leave=False)
            for x, y in batches:
                stop = start + len(x)
                if stop > n:
                    raise ValueError(f"data yielded more than its length ({n}) instances")
                window[:] = [start, stop]
                x = x.to(dev, non_blocking=cuda)
                z = first_tensor(model(x))
                if z is None or z.ndim != 2 or z.shape[1] != n_classes:
                    shape = None if z is None else tuple(z.shape)
                    raise ValueError(f"the model must return logits of shape (batch, {n_classes}), got {shape}")
                logits[start:stop] = z.float().cpu().numpy()
                labels[start:stop] = _batch_labels(y, label_map, n_classes, start)
                for spec in specs:
                    if spec.kind in ("input", "logits"):
                        emb = x if spec.kind == "input" else z
                        out[spec.name][start:stop] = reduce_embedding(emb, max_dim, spec.layout).cpu().numpy()
                start = stop
                bar.update(len(x))
            bar.close()
            if start != n:
                raise ValueError(f"data yielded {start} instances but has length {n}")
    finally:
        for h in handles:
            h.remove()
    return Extraction(
        logits=logits,
        labels=labels,
        predictions=logits.argmax(axis=1).astype(np.int64),
        probes=out,
        reductions={spec.name: spec.describe(max_dim) for spec in specs},
    )


@contextmanager
def evaluating(model: nn.Module, device: torch.device) -> Iterator[nn.Module]:
    """The model in eval mode on ``device``; every module's train/eval mode and the model's device restored after."""
    modes = {m: m.training for m in model.modules()}
    param = next(iter(model.parameters()), None)
    home = param.device if param is not None else None
    try:
        yield model.eval().to(device)
    finally:
        for m, was_training in modes.items():
            m.train(was_training)
        if home is not None:
            model.to(home)


def _register(
    model: nn.Module, specs: list[ProbeSpec], out: dict[str, np.ndarray], window: list[int], max_dim: int | None
) -> list[Any]:
    """Hooks that reduce each module probe inside the module call and write it into ``out`` at ``window``."""
    handles = []
    for spec in specs:
        if spec.kind in ("input", "logits"):
            continue
        module = model.get_submodule(spec.module)

        def write(value: Any, spec: ProbeSpec = spec) -> None:
            tensor = first_tensor(value)
            if tensor is None:
                raise ValueError(f"probe {spec.name!r}: module {spec.module!r} gave no tensor")
            out[spec.name][window[0] : window[1]] = reduce_embedding(tensor, max_dim, spec.layout).cpu().numpy()

        if spec.where == "input":
            handles.append(module.register_forward_pre_hook(lambda m, args, write=write: write(args)))
        else:
            handles.append(module.register_forward_hook(lambda m, args, output, write=write: write(output)))
    return handles


def _batch_labels(y: Any, label_map: np.ndarray | None, n_classes: int, start: int) -> np.ndarray:
    labels = to_numpy(y).astype(np.int64).reshape(-1)
    if label_map is not None:
        if labels.size and (labels.min() < 0 or labels.max() >= len(label_map)):
            raise ValueError(f"label_map has {len(label_map)} entries, but the data has label {labels.max()}")
        labels = label_map[labels]
    bad = np.flatnonzero((labels < 0) | (labels >= n_classes))
    if bad.size:
        raise ValueError(
            f"the label of instance {start + bad[0]} is {labels[bad[0]]}, outside the model's {n_classes} classes "
            "[0, n_classes): the dataset's labels do not match the model's outputs"
        )
    return labels
