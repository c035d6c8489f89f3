"""One small forward pass with a hook on every module: which modules run, in which order, and which tensors they
take and give. The probe rule (:mod:`.probes`) reads the architecture from this record instead of guessing from
module names, and the memory estimate reads the sizes of the activations from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn


def first_tensor(value: object) -> torch.Tensor | None:
    """The tensor a module took or gave: itself, or the first tensor of a tuple / list / dict; None if none."""
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (tuple, list)):
        for item in value:
            if isinstance(item, torch.Tensor):
                return item
    return None


def storage_key(x: torch.Tensor | None) -> tuple[int, int] | None:
    """(address of the first element, number of elements): equal for a tensor, its flattened views and what an
    identity, an eval-mode dropout or an in-place activation returns. Only meaningful while the tensors are alive
    (the trace keeps them alive, so no address is reused)."""
    if x is None:
        return None
    return (x.data_ptr(), x.numel())


@dataclass
class Call:
    """What a module did in the traced pass: ``order`` of its first call, ``calls`` (how many times it ran), and
    the storage keys and per-instance shapes of its first input and its output (first call)."""

    order: int
    calls: int = 0
    in_key: tuple[int, int] | None = None
    in_shape: tuple[int, ...] | None = None
    out_key: tuple[int, int] | None = None
    out_shape: tuple[int, ...] | None = None
    out_bytes: int = 0
    inputs: torch.Tensor | None = field(default=None, repr=False)
    output: torch.Tensor | None = field(default=None, repr=False)


@dataclass
class Trace:
    """The record of one traced pass: module name -> :class:`Call` for every module that ran (the root is ``""``),
    the input's and the logits' storage keys and shapes, and the largest output of any module (bytes per
    instance)."""

    calls: dict[str, Call]
    input_key: tuple[int, int]
    input_shape: tuple[int, ...]
    logits_key: tuple[int, int]
    n_classes: int
    batch: int
    max_activation_bytes: int
    inputs: torch.Tensor | None = field(default=None, repr=False)
    logits: torch.Tensor | None = field(default=None, repr=False)
    alive: list[torch.Tensor] = field(default_factory=list, repr=False)

    def tensor_of(self, module: str, where: str) -> torch.Tensor | None:
        """The traced tensor a probe reads: the model input or output, or a module's first input or output."""
        if where == "model input":
            return self.inputs
        if where == "model output":
            return self.logits
        call = self.calls.get(module)
        if call is None:
            return None
        return call.inputs if where == "input" else call.output

    def ran(self, name: str) -> bool:
        return name in self.calls


@torch.no_grad()
def trace_model(model: nn.Module, x: torch.Tensor) -> Trace:
    """Run ``model`` once on the batch ``x`` (eval mode, no gradients) with a hook on every module.

    Raises ``ValueError`` when the model does not return logits of shape (batch, n_classes). The caller sets the
    model's mode and device; every hook is removed afterwards.
    """
    calls: dict[str, Call] = {}
    alive: list[torch.Tensor] = []  # every traced tensor stays referenced: no address is reused during the pass
    counter = [0]

    def pre_hook(name: str):
        def hook(module: nn.Module, args: Any) -> None:
            call = calls.get(name)
            if call is None:
                call = calls[name] = Call(order=counter[0])
                counter[0] += 1
                tensor = first_tensor(args)
                call.in_key = storage_key(tensor)
                if tensor is not None:
                    call.in_shape = tuple(tensor.shape[1:])
                    call.inputs = tensor
                    alive.append(tensor)
            call.calls += 1

        return hook

    def post_hook(name: str):
        def hook(module: nn.Module, args: Any, output: Any) -> None:
            call = calls[name]
            tensor = first_tensor(output)
            if tensor is None:
                return
            if call.out_key is None:
                call.out_key = storage_key(tensor)
                call.out_shape = tuple(tensor.shape[1:])
                call.out_bytes = tensor[0].numel() * tensor.element_size() if tensor.ndim else 0
                call.output = tensor
            alive.append(tensor)

        return hook

    handles = []
    try:
        for name, module in model.named_modules():
            handles.append(module.register_forward_pre_hook(pre_hook(name)))
            handles.append(module.register_forward_hook(post_hook(name)))
        z = first_tensor(model(x))
    finally:
        for handle in handles:
            handle.remove()
    if z is None or z.ndim != 2 or len(z) != len(x):
        shape = None if z is None else tuple(z.shape)
        raise ValueError(f"the model must return logits of shape (batch, n_classes), got {shape}")
    alive.append(z)
    largest = max([c.out_bytes for c in calls.values()] + [x[0].numel() * x.element_size()])
    return Trace(
        calls=calls,
        input_key=storage_key(x),
        input_shape=tuple(x.shape[1:]),
        logits_key=storage_key(z),
        n_classes=int(z.shape[1]),
        batch=len(x),
        max_activation_bytes=int(largest),
        inputs=x,
        logits=z,
        alive=alive,
    )
