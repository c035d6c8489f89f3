"""Before the pass: trace one small batch, choose the probes and the batch size, estimate what the pass stores.

Everything here runs on two images, so a wrong model, wrong probe names or a model whose output does not match
the data fail in about a second, before any expensive work.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from .._validation import check_positive_int
from .probes import (
    PENULTIMATE,
    ProbeSpec,
    block_probes,
    drop_pooled_duplicates,
    named_probes,
    probes_from_trace,
    resolve_probe_names,
)
from .trace import Trace, trace_model

#: activations of one batch may take this much memory by default
DEFAULT_MEMORY_BUDGET = 768 * 2**20  # ResNet-50 at 224 px: batch 62, extraction under 2 GB resident
#: peak memory of a forward pass per instance, as a multiple of its largest single activation (measured on
#: ResNet-18 / EfficientNet-Lite0 at 224 px on the CPU: 3.3-3.5x; rounded up)
ACTIVATION_FACTOR = 4
MAX_BATCH = 256
_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "KIB": 2**10, "MIB": 2**20, "GIB": 2**30}


@dataclass(frozen=True)
class ExtractionPlan:
    """What :func:`~difficulty_widget.extract.extract` will do: the ``probes`` (:class:`ProbeSpec`, in order),
    ``max_probe_dim``, ``batch_size``, the model's ``n_classes``, the per-instance ``input_shape`` and the
    estimated activation memory per instance (``activation_bytes``); ``requested``: the names the ``probes``
    argument asked for (prediction depth's probes), ``features``: the name of the features probe, if asked."""

    probes: list[ProbeSpec]
    max_probe_dim: int | None
    batch_size: int
    n_classes: int
    input_shape: tuple[int, ...]
    activation_bytes: int
    requested: list[str] = field(default_factory=list)
    features: str | None = None

    @property
    def probe_names(self) -> list[str]:
        return [spec.name for spec in self.probes]

    def dims(self) -> dict[str, int]:
        """Probe name -> the length of its stored vector."""
        return {spec.name: spec.reduced_dim(self.max_probe_dim) for spec in self.probes}

    def stored_bytes(self, n: int) -> int:
        """Bytes of the float32 embeddings that ``n`` instances store (all probes)."""
        return 4 * n * sum(self.dims().values())

    def summary(self, n: int, n_support: int | None = None, depth: Sequence[str] = ()) -> str:
        """A few lines for a person: the probes with their shapes and pooling, the batch size, the stored size
        and, for the ``depth`` probes, the k-NN cost against ``n_support`` training rows."""
        lines = [f"probes ({len(self.probes)}), batch {self.batch_size}, {n} images:"]
        for spec in self.probes:
            info = spec.describe(self.max_probe_dim)
            shape = "x".join(str(s) for s in spec.shape)
            how = {"class_token": "class token", "mean_token": "mean over tokens"}.get(spec.layout, "")
            pooled = "avg-pooled" if info["pooled"] else ""
            note = ", ".join(p for p in (how, pooled) if p)
            where = f"{spec.where} of {spec.module}" if spec.module else spec.where
            lines.append(f"  {spec.name:<28} {shape:>16} -> {info['dim']:>6}  {where}{f' ({note})' if note else ''}")
        lines.append(f"stored embeddings: {_size(self.stored_bytes(n))}")
        if depth and n_support:
            dims = self.dims()
            flop = 2.0 * n * n_support * sum(dims[name] for name in depth)
            lines.append(f"k-NN for prediction depth: {len(depth)} probes, {flop / 1e12:.2g} TFLOP of distances")
        return "\n".join(lines)


def parse_bytes(value: int | str | None, name: str = "memory_budget") -> int:
    """Bytes from an integer or a string such as ``"2GB"``, ``"512 MiB"``; None gives the default."""
    if value is None:
        return DEFAULT_MEMORY_BUDGET
    if isinstance(value, str):
        match = re.fullmatch(r"\s*([0-9.]+)\s*([A-Za-z]*)\s*", value)
        unit = match.group(2).upper() if match else None
        if match is None or unit not in _UNITS:
            raise ValueError(f"{name} must be a number of bytes or a string such as '2GB' or '512MiB', got {value!r}")
        value = float(match.group(1)) * _UNITS[unit]
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or value <= 0:
        raise ValueError(f"{name} must be a positive number of bytes, got {value!r}")
    return int(value)


def first_batch(data: Any, n: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``n`` instances of ``data`` as one batch (inputs, labels)."""
    from .extraction import iter_batches

    size, batches = iter_batches(data, n)
    if size == 0:
        raise ValueError("data is empty: expected at least one instance")
    x, y = next(iter(batches))
    return x[:n], y[:n]


def trace(model: nn.Module, data: Any, device: torch.device) -> Trace:
    """Trace ``model`` on the first two instances of ``data`` (modes and device restored afterwards)."""
    from .extraction import evaluating

    x, _ = first_batch(data)
    with evaluating(model, device):
        return trace_model(model, x.to(device))


def plan_extraction(
    model: nn.Module,
    data: Any,
    *,
    probes: str | Sequence[str] | None = None,
    max_probe_dim: int | None = None,
    batch_size: int | None = None,
    memory_budget: int | str | None = None,
    device: Any = None,
    features: str | None = None,
) -> ExtractionPlan:
    """Trace one small batch and decide the probes and the batch size.

    ``features``: one more probe to extract for the data-perspective scores, ``"penultimate"`` (the input of the
    final linear layer, under the name of the block that produces it when there is one) or a probe name.

    ``batch_size=None`` takes as many images as fit ``memory_budget`` (default 768 MiB) at an estimated
    ``ACTIVATION_FACTOR`` times the largest activation per image, between 1 and 256.
    """
    from .extraction import pick_device

    resolve_probe_names(model, probes)  # names checked before running anything
    if features is not None and features != PENULTIMATE:
        resolve_probe_names(model, [features])
    if max_probe_dim is not None:
        max_probe_dim = check_positive_int(max_probe_dim, "max_probe_dim")
    budget = parse_bytes(memory_budget)
    if batch_size is not None:
        batch_size = check_positive_int(batch_size, "batch_size")
    record = trace(model, data, pick_device(model, device))
    specs = [] if probes is None else probes_from_trace(model, record, probes)
    if isinstance(resolve_probe_names(model, probes), str):  # a rule, not names the caller chose
        specs = drop_pooled_duplicates(specs, record, max_probe_dim)
    requested = [spec.name for spec in specs]
    feature_name = None
    if features is not None:
        if features == PENULTIMATE:
            found = [spec for spec in block_probes(model, record) if spec.kind == PENULTIMATE]
            feature_spec = found[0] if found else named_probes(model, record, [PENULTIMATE])[0]
        else:
            feature_spec = named_probes(model, record, [features])[0]
        feature_name = feature_spec.name
        if feature_name not in requested:
            specs.append(feature_spec)
    per_instance = ACTIVATION_FACTOR * record.max_activation_bytes
    if batch_size is None:
        batch_size = int(min(MAX_BATCH, max(1, budget // max(1, per_instance))))
    return ExtractionPlan(
        probes=specs,
        max_probe_dim=max_probe_dim,
        batch_size=batch_size,
        n_classes=record.n_classes,
        input_shape=record.input_shape,
        activation_bytes=per_instance,
        requested=requested,
        features=feature_name,
    )


def _size(n_bytes: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n_bytes < 1000 or unit == "TB":
            return f"{n_bytes:.3g} {unit}"
        n_bytes /= 1000
    return f"{n_bytes:.3g} TB"
