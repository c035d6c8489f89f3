"""Probe points: where in a model embeddings are read, and how an oversized embedding is reduced."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

INPUT = "input"
LOGITS = "logits"


def default_probes(model: nn.Module) -> list[str]:
    """The input, every top-level child module's output, and the final logits."""
    return [INPUT, *(name for name, _ in model.named_children()), LOGITS]


def resolve_probes(model: nn.Module, probes: str | Sequence[str] | None) -> list[str]:
    """Validate probe names: ``"input"``, ``"logits"`` or names from ``model.named_modules()``."""
    if probes is None:
        return []
    if isinstance(probes, str):
        if probes != "default":
            raise ValueError(f'probes must be None, "default" or a list of probe names, got {probes!r}')
        return default_probes(model)
    names = list(probes)
    modules = dict(model.named_modules())
    unknown = [p for p in names if p not in (INPUT, LOGITS) and (p not in modules or p == "")]
    if unknown:
        children = [n for n, _ in model.named_children()]
        raise ValueError(f"unknown probe names {unknown}; use 'input', 'logits' or module names such as {children}")
    if len(set(names)) != len(names):
        raise ValueError(f"probe names must be unique, got {names}")
    return names


def first_tensor(output: object, name: str) -> torch.Tensor:
    """The tensor a module returned (the first one when it returned a tuple or list)."""
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], torch.Tensor):
        return output[0]
    raise ValueError(f"probe {name!r}: the module returned {type(output).__name__}, expected a tensor")


def reduce_embedding(x: torch.Tensor, max_dim: int | None) -> torch.Tensor:
    """Flatten a batch of embeddings to (B, d), average-pooling first so that d <= ``max_dim``.

    Feature maps (B, C, H, W) are pooled over space with adaptive average pooling, keeping the aspect
    ratio; if even 1x1 leaves more than ``max_dim`` channels, channels are average-pooled too. Vectors
    (B, F) with F > ``max_dim`` are average-pooled to ``max_dim`` values. The rule is fixed and recorded,
    so that a reduction is always explicit.
    """
    batch = x.shape[0]
    if max_dim is None or x[0].numel() <= max_dim:
        return x.reshape(batch, -1)
    if x.ndim == 4:
        channels, height, width = x.shape[1:]
        scale = math.sqrt(max_dim / (channels * height * width))
        out_h, out_w = max(1, math.floor(height * scale)), max(1, math.floor(width * scale))
        x = F.adaptive_avg_pool2d(x, (out_h, out_w))
        if x[0].numel() <= max_dim:
            return x.reshape(batch, -1)
    return F.adaptive_avg_pool1d(x.reshape(batch, 1, -1), max_dim).reshape(batch, -1)
