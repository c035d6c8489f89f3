"""Probe points: where in a model embeddings are read, and how each embedding is reduced to a vector.

The default rule, ``probes="blocks"`` (DESIGN.md section 3, after Baldock et al. 2021, who probe the output of
every block): from one traced pass (:func:`~difficulty_widget.extract.trace.trace_model`),

1. walk the modules that ran, in call order, from the root; a plain ``nn.Sequential`` or ``nn.ModuleList`` with at
   least two non-leaf children (``layerN`` of a ResNet, ``features``, ``blocks``, ``encoder.layers``, ``stages``,
   ``_blocks``) is expanded into its children; a custom module that holds at least half of the parameters and
   contains such a container (torchvision ViT's ``encoder``, a wrapper around a backbone) is walked through;
   everything else is one unit. Modules that never ran, or ran more than once, are never probes;
2. the *blocks* are the non-leaf units that came out of an expanded container (with no container, every non-leaf
   unit of the root); units that contain the final linear layer are the head, not blocks. A network with no
   non-leaf unit at all (a plain ``Sequential`` of layers) uses its layers;
3. the probes are ``input``, ``stem`` (the input of the first block: whatever conv / norm / activation / pool /
   patch embedding came before it, as one probe), every block's output, ``penultimate`` (the input of the final
   linear layer, found by a hook) and ``logits``;
4. a probe whose tensor is the same as an earlier probe's (the same storage: an identity, an eval-mode dropout, a
   flatten, an in-place activation) is dropped; when the penultimate features are a block's output, the block's
   name is kept. After pooling (below), a block whose vectors equal a later probe's on the traced batch is
   dropped too (ResNet-50's last block pooled to 2048 x 1 x 1 is the penultimate features).

Each probe is reduced to a vector inside its hook, so a full-resolution activation never outlives its module
call: feature maps (B, C, H, W) are average-pooled over space to at most ``max_dim`` values (aspect kept),
channels-last maps (B, H, W, C, as in Swin) the same after a permute, token sequences (B, T, D) are read at the
class token when the model has one (a ``cls_token`` / ``class_token`` parameter), else averaged over tokens, and
vectors longer than ``max_dim`` are average-pooled. ``probes="top-level"`` is the older rule (the input, every
top-level child, the logits); explicit names are module names from ``model.named_modules()`` plus the special
names ``input``, ``stem``, ``penultimate`` and ``logits``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from .trace import Trace

INPUT = "input"
STEM = "stem"
PENULTIMATE = "penultimate"
LOGITS = "logits"
SPECIAL = (INPUT, STEM, PENULTIMATE, LOGITS)
RULES = ("blocks", "top-level")
#: share of the model's parameters above which a custom module is walked through instead of being one unit
DOMINANT_SHARE = 0.5


@dataclass(frozen=True)
class ProbeSpec:
    """One probe: its ``name``, the ``module`` whose ``where`` ("output" or "input") it reads ("" with where =
    "model input" / "model output" for the input and the logits), its ``kind`` (input / stem / block /
    penultimate / logits / module), the per-instance ``shape`` read in the traced pass and its ``layout``
    (image: B x C x H x W, channels_last, class_token, mean_token, vector)."""

    name: str
    module: str
    where: str
    kind: str
    shape: tuple[int, ...]
    layout: str

    def reduced_dim(self, max_dim: int | None) -> int:
        """The length of the probe's vector after :func:`reduce_embedding` with ``max_dim``."""
        x = torch.zeros((1, *self.shape), device="meta")
        return int(reduce_embedding(x, max_dim, self.layout).shape[1])

    def describe(self, max_dim: int | None) -> dict[str, Any]:
        """What the provenance records for the probe."""
        dim = self.reduced_dim(max_dim)
        tokens = self.layout in ("class_token", "mean_token")
        full = self.shape[-1] if tokens else math.prod(self.shape)
        return {
            "module": self.module or None,
            "kind": self.kind,
            "shape": list(self.shape),
            "layout": self.layout,
            "dim": dim,
            "pooled": dim != full,
        }


def has_class_token(model: nn.Module) -> bool:
    """Whether the model has a learned class token (timm ``cls_token``, torchvision ``class_token``)."""
    for name in ("cls_token", "class_token"):
        if isinstance(getattr(model, name, None), torch.Tensor):
            return True
    return any(name.rsplit(".", 1)[-1] in ("cls_token", "class_token") for name, _ in model.named_parameters())


def layout_of(shape: tuple[int, ...], class_token: bool, input_shape: tuple[int, ...] = ()) -> str:
    """How a per-instance shape is read: (T, D) tokens, (C, H, W) or channels-last (H, W, C) maps, vectors.

    A 3-D map is channels-last (Swin: H x W x C) when its first two axes have the input image's aspect ratio and
    its last two do not; C x H x W otherwise.
    """
    if len(shape) == 2:
        return "class_token" if class_token else "mean_token"
    if len(shape) == 3:
        aspect = input_shape[-2] / input_shape[-1] if len(input_shape) >= 2 and input_shape[-1] else 1.0

        def fits(h: int, w: int) -> bool:  # strided layers round: allow one pixel
            return abs(h - w * aspect) <= 1

        return "channels_last" if fits(shape[0], shape[1]) and not fits(shape[1], shape[2]) else "image"
    return "vector"


def reduce_embedding(x: torch.Tensor, max_dim: int | None, layout: str = "image") -> torch.Tensor:
    """A batch of embeddings as (B, d) float32 with d <= ``max_dim`` (see the module docstring for the rule).

    Feature maps (B, C, H, W) are pooled over space with adaptive average pooling, keeping the aspect ratio;
    if even 1 x 1 leaves more than ``max_dim`` channels, channels are average-pooled too. Vectors (B, F) with
    F > ``max_dim`` are average-pooled to ``max_dim`` values.
    """
    batch = x.shape[0]
    if layout == "class_token" and x.ndim == 3:
        x = x[:, 0]
    elif layout == "mean_token" and x.ndim == 3:
        x = x.mean(dim=1)
    elif layout == "channels_last" and x.ndim == 4:
        x = x.permute(0, 3, 1, 2)
    x = x.float()
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


def final_linear(model: nn.Module, trace: Trace) -> str | None:
    """The name of the final linear layer: the ``nn.Linear`` that ran once and produced the logits (the deepest
    module whose output is the logits' storage), or None (logits made by a convolution or a function)."""
    names = [n for n, c in trace.calls.items() if c.out_key == trace.logits_key and c.calls == 1 and n]
    linear = [n for n in names if isinstance(model.get_submodule(n), nn.Linear)]
    return max(linear, key=lambda n: n.count(".") + 1) if linear else None


def block_probes(model: nn.Module, trace: Trace) -> list[ProbeSpec]:
    """The default probes of ``model`` (the ``"blocks"`` rule of the module docstring) from its trace."""
    units = _walk(model, trace)
    final = final_linear(model, trace)
    head = {n for n, _ in units if final is not None and (final == n or final.startswith(n + "."))}
    non_leaf = [n for n, _ in units if n not in head and not _is_layer(model, n)]
    blocks = [n for n, expanded in units if expanded and n in non_leaf] or non_leaf
    if not blocks:  # a plain stack of layers: its layers
        blocks = [n for n, _ in units if n not in head]
    blocks = [n for n in blocks if trace.ran(n) and trace.calls[n].calls == 1 and trace.calls[n].out_key is not None]
    class_token = has_class_token(model)
    specs = [ProbeSpec(INPUT, "", "model input", "input", trace.input_shape, "image")]
    keys = [trace.input_key]
    if blocks:
        first = trace.calls[blocks[0]]
        stem_shape = first.in_shape
        if first.in_key is not None and stem_shape is not None:
            layout = layout_of(stem_shape, class_token, trace.input_shape)
            specs.append(ProbeSpec(STEM, blocks[0], "input", "stem", stem_shape, layout))
            keys.append(first.in_key)
    for name in blocks:
        call = trace.calls[name]
        layout = layout_of(call.out_shape, class_token, trace.input_shape)
        specs.append(ProbeSpec(name, name, "output", "block", call.out_shape, layout))
        keys.append(call.out_key)
    if final is not None:
        call = trace.calls[final]
        shape = call.in_shape
        if shape is not None:
            specs.append(ProbeSpec(PENULTIMATE, final, "input", "penultimate", shape, "vector"))
            keys.append(call.in_key)
    specs.append(ProbeSpec(LOGITS, "", "model output", "logits", (trace.n_classes,), "vector"))
    keys.append(trace.logits_key)
    return _unique(specs, keys)


def top_level_probes(model: nn.Module, trace: Trace) -> list[ProbeSpec]:
    """The older rule: the input, the output of every top-level child that ran once, and the logits (a last
    child whose output is the logits is not repeated)."""
    class_token = has_class_token(model)
    specs = [ProbeSpec(INPUT, "", "model input", "input", trace.input_shape, "image")]
    keys = [trace.input_key]
    for name, _ in model.named_children():
        call = trace.calls.get(name)
        if call is None or call.out_key is None or call.calls != 1:
            continue
        if call.out_key == trace.logits_key:
            continue
        layout = layout_of(call.out_shape, class_token, trace.input_shape)
        specs.append(ProbeSpec(name, name, "output", "module", call.out_shape, layout))
        keys.append(call.out_key)
    specs.append(ProbeSpec(LOGITS, "", "model output", "logits", (trace.n_classes,), "vector"))
    keys.append(trace.logits_key)
    if len(specs) > 2 and keys[-2] == keys[-1]:
        del specs[-2]
    return specs


def named_probes(model: nn.Module, trace: Trace, names: Sequence[str]) -> list[ProbeSpec]:
    """Probes for explicit names (module names and the special names), in the given order."""
    defaults = {spec.name: spec for spec in block_probes(model, trace)}
    class_token = has_class_token(model)
    specs = []
    for name in names:
        if name in (INPUT, LOGITS):
            spec = defaults[name]
        elif name in (STEM, PENULTIMATE):
            spec = defaults.get(name) or _merged_special(model, trace, name, defaults)
        else:
            call = trace.calls.get(name)
            if call is None or call.out_key is None:
                raise ValueError(f"probe {name!r}: the module never ran in a forward pass (or returned no tensor)")
            if call.calls != 1:
                raise ValueError(
                    f"probe {name!r}: the module runs {call.calls} times in one forward pass, so its output is "
                    "ambiguous; probe the modules that use it instead"
                )
            kind = defaults[name].kind if name in defaults else "module"
            layout = layout_of(call.out_shape, class_token, trace.input_shape)
            spec = ProbeSpec(name, name, "output", kind, call.out_shape, layout)
        specs.append(spec)
    return specs


def drop_pooled_duplicates(specs: list[ProbeSpec], trace: Trace, max_dim: int | None) -> list[ProbeSpec]:
    """Drop a probe whose reduced vectors on the traced batch equal a later probe's (pooling can make them so:
    ResNet-50's last block pooled to 2048 x 1 x 1 *is* the average-pooled penultimate features); the later one
    (nearer the output, or the penultimate features) is kept. Applied to the rules only, never to names the caller
    chose."""
    reduced = []
    for spec in specs:
        tensor = trace.tensor_of(spec.module, spec.where)
        reduced.append(None if tensor is None else reduce_embedding(tensor, max_dim, spec.layout))
    keep = []
    for i, spec in enumerate(specs):
        later = [r for r in reduced[i + 1 :] if r is not None]
        mine = reduced[i]
        twin = mine is not None and any(r.shape == mine.shape and torch.equal(r, mine) for r in later)
        if not twin or spec.kind in ("input", "logits", "penultimate"):
            keep.append(spec)
    return keep


def resolve_probe_names(model: nn.Module, probes: str | Sequence[str] | None) -> list[str] | str:
    """Check ``probes`` without running the model: None -> [], a rule name ("blocks", "top-level"; "default" is
    "blocks") -> the rule, a list -> the names (unknown or repeated names raise ``ValueError``)."""
    if probes is None:
        return []
    if isinstance(probes, str):
        if probes == "default":
            return "blocks"
        if probes not in RULES:
            raise ValueError(f'probes must be None, "blocks", "top-level" or a list of probe names, got {probes!r}')
        return probes
    names = list(probes)
    modules = dict(model.named_modules())
    unknown = [p for p in names if p not in SPECIAL and (p not in modules or p == "")]
    if unknown:
        children = [n for n, _ in model.named_children()]
        raise ValueError(
            f"unknown probe names {unknown}; use {', '.join(repr(s) for s in SPECIAL)} or module names such as "
            f"{children}"
        )
    if len(set(names)) != len(names):
        raise ValueError(f"probe names must be unique, got {names}")
    return names


def probes_from_trace(model: nn.Module, trace: Trace, probes: str | Sequence[str] | None) -> list[ProbeSpec]:
    """The probe specs for ``probes`` (a rule or names, see :func:`resolve_probe_names`) on a traced model."""
    resolved = resolve_probe_names(model, probes)
    if resolved == "blocks":
        return block_probes(model, trace)
    if resolved == "top-level":
        return top_level_probes(model, trace)
    return named_probes(model, trace, resolved)


def _children(model: nn.Module, name: str) -> list[str]:
    module = model.get_submodule(name) if name else model
    prefix = f"{name}." if name else ""
    return [prefix + child for child, _ in module.named_children()]


def _ran_children(model: nn.Module, trace: Trace, name: str) -> list[str]:
    """The children that ran, in the order of their first call; an ``nn.ModuleList`` (never called itself) counts
    as run when a child of it ran, at its first child's call."""
    order = {c: _first_call(model, trace, c) for c in _children(model, name)}
    return sorted((c for c, o in order.items() if o is not None), key=order.__getitem__)


def _first_call(model: nn.Module, trace: Trace, name: str) -> int | None:
    if trace.ran(name):
        return trace.calls[name].order
    if isinstance(model.get_submodule(name), nn.ModuleList):
        orders = [o for c in _children(model, name) if (o := _first_call(model, trace, c)) is not None]
        return min(orders) if orders else None
    return None


def _is_layer(model: nn.Module, name: str) -> bool:
    """A single layer, not a block: none of its children has parameters (a convolution with a padding child, a
    norm with an activation child, a pooling wrapper, an activation)."""
    module = model.get_submodule(name)
    return not any(any(True for _ in child.parameters()) for child in module.children())


def _expandable(model: nn.Module, trace: Trace, name: str) -> bool:
    """A plain container of blocks: nn.Sequential (its own forward) or nn.ModuleList whose children ran in order,
    with at least two non-leaf children that ran."""
    module = model.get_submodule(name)
    if type(module).forward is not nn.Sequential.forward and not isinstance(module, nn.ModuleList):
        return False
    if not isinstance(module, (nn.Sequential, nn.ModuleList)):
        return False
    ran = _ran_children(model, trace, name)
    if isinstance(module, nn.ModuleList):
        in_order = [c for c in _children(model, name) if trace.ran(c)]
        if ran != in_order or any(trace.ran(c) and trace.calls[c].calls != 1 for c in ran):
            return False
    return sum(1 for c in ran if not _is_layer(model, c)) >= 2


def _walk(model: nn.Module, trace: Trace) -> list[tuple[str, bool]]:
    """(unit name, came out of an expanded container) in call order (rule 1 of the module docstring)."""
    total = sum(p.numel() for p in model.parameters()) or 1

    def dominant(name: str) -> bool:
        share = sum(p.numel() for p in model.get_submodule(name).parameters()) / total
        return share >= DOMINANT_SHARE and _contains_container(name)

    def _contains_container(name: str) -> bool:
        return any(
            _expandable(model, trace, c) or (not _is_layer(model, c) and dominant(c))
            for c in _ran_children(model, trace, name)
        )

    def walk(name: str, expanded: bool) -> list[tuple[str, bool]]:
        out: list[tuple[str, bool]] = []
        for child in _ran_children(model, trace, name):
            if _expandable(model, trace, child):
                out += walk(child, True)
            elif not expanded and not _is_layer(model, child) and dominant(child):
                out += walk(child, expanded)  # a wrapper around the blocks (ViT's encoder): walked through
            else:
                out.append((child, expanded))
        return out

    return walk("", False)


def _merged_special(model: nn.Module, trace: Trace, name: str, defaults: dict[str, ProbeSpec]) -> ProbeSpec:
    """``stem`` / ``penultimate`` asked for by name when the default rule merged it into another probe."""
    if name == PENULTIMATE:
        final = final_linear(model, trace)
        if final is not None:
            shape = trace.calls[final].in_shape
            if shape is not None:
                return ProbeSpec(PENULTIMATE, final, "input", "penultimate", shape, "vector")
        raise ValueError("probe 'penultimate': the model has no final nn.Linear layer whose input could be read")
    units = [s for s in defaults.values() if s.kind == "block"]
    if units:
        first = trace.calls[units[0].module]
        shape = first.in_shape
        if shape is not None:
            layout = layout_of(shape, has_class_token(model), trace.input_shape)
            return ProbeSpec(STEM, units[0].module, "input", "stem", shape, layout)
    raise ValueError("probe 'stem': the model has no block whose input could be read")


def _unique(specs: list[ProbeSpec], keys: list[Any]) -> list[ProbeSpec]:
    """Drop a probe whose tensor an earlier probe already reads; a block that *is* the penultimate features keeps
    its name (and the penultimate kind); the logits are always the logits."""
    out: list[ProbeSpec] = []
    seen: dict[Any, int] = {}
    for spec, key in zip(specs, keys, strict=True):
        if key in seen:
            earlier = seen[key]
            if spec.kind == "logits":
                out[earlier] = spec  # a block that returns the logits is the logits probe
            elif spec.kind == "penultimate" and out[earlier].kind == "block":
                out[earlier] = ProbeSpec(**{**out[earlier].__dict__, "kind": "penultimate"})
            continue
        seen[key] = len(out)
        out.append(spec)
    return out
