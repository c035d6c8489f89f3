"""Per-sample gradient norms: GraNd (Paul, Ganguli, Dziugaite, "Deep learning on a data diet: finding important
examples early in training", NeurIPS 2021).

GraNd(x, y) = ||grad_theta L(f_theta(x), y)||_2, the norm of the gradient of the cross-entropy L with respect to
the parameters theta (the paper takes its expectation over a few initialisations, early in training; here it is
the given model's).

- :func:`grand_last_layer` (registered, column ``grand_last_layer``): the final linear layer z = W h + b only, in
  closed form. With p = softmax(z), dL/dz = p - e_y, so dL/dW = (p - e_y) h^T and dL/db = p - e_y; the Frobenius
  norm of an outer product is the product of the norms, hence ||p - e_y||_2 sqrt(||h||_2^2 + 1): EL2N times a
  feature-norm factor, from the logits and the penultimate features (the input of that layer).
- :func:`grand_full` (opt-in, not in the registry: it needs the model and the images): every trainable
  parameter, with ``torch.func`` (``vmap(grad(...))`` over a batch, ``functional_call``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .._validation import check_bool, check_labels, check_positive_int, to_numpy
from .model import el2n
from .registry import Measure, register

# Feature rows per chunk when summing squares in float64 (about 32 MB of temporaries).
_CHUNK_VALUES = 2**22


def grand_last_layer(logits: Any, features: Any, labels: Any, *, bias: bool = True) -> np.ndarray:
    """GraNd of the final linear layer in closed form, ||p - e_y||_2 * sqrt(||h||_2^2 + 1), per instance.

    Parameters
    ----------
    logits : (N, C) outputs z = W h + b of the final linear layer.
    features : (N, d) its inputs h, the penultimate features (the ``penultimate`` probe, unpooled: pooling with
        ``max_probe_dim`` changes ||h||).
    labels : (N,) given labels in ``[0, C)``.
    bias : whether the layer has a bias (the ``+ 1``, the gradient with respect to b); without one, the norm is
        ||p - e_y||_2 ||h||_2.

    The gradient of the cross-entropy with respect to (W, b) is ((p - e_y) h^T, p - e_y) (Paul, Ganguli,
    Dziugaite, NeurIPS 2021, GraNd restricted to the last layer).
    """
    bias = check_bool(bias, "bias")
    error = el2n(logits, labels)  # validates logits and labels
    h = to_numpy(features)
    if h.ndim != 2 or h.shape[0] != error.shape[0]:
        raise ValueError(f"features must have shape ({error.shape[0]}, dim), one row per logits row, got {h.shape}")
    if h.dtype == bool or not (np.issubdtype(h.dtype, np.floating) or np.issubdtype(h.dtype, np.integer)):
        raise ValueError(f"features must hold real numbers, got dtype {h.dtype}")
    norm = np.empty(h.shape[0], dtype=np.float64)
    step = max(1, _CHUNK_VALUES // max(1, h.shape[1]))
    for start in range(0, h.shape[0], step):
        chunk = np.asarray(h[start : start + step], dtype=np.float64)
        if not np.isfinite(chunk).all():
            raise ValueError("features contains NaN or infinite values")
        # ||h|| = m ||h / m|| with m the row's largest magnitude: no square overflows (1e200) or underflows
        peak = np.abs(chunk).max(axis=1, initial=0.0)
        unit = chunk / np.where(peak > 0, peak, 1.0)[:, None]
        norm[start : start + step] = peak * np.sqrt(np.einsum("ij,ij->i", unit, unit))
    return error * (np.hypot(norm, 1.0) if bias else norm)


def grand_scores(logits: Any, features: Any, labels: Any) -> pd.DataFrame:
    """Registry adapter: the ``grand_last_layer`` column (a final linear layer with a bias)."""
    return pd.DataFrame({"grand_last_layer": grand_last_layer(logits, features, labels)})


def grand_full(
    model: Any,
    images: Any,
    labels: Any,
    *,
    batch_size: int = 32,
    device: Any = None,
    progress: bool = False,
) -> np.ndarray:
    """GraNd over every trainable parameter: ||grad_theta CE(model(x), y)||_2 per instance, float64 (N,).

    Parameters
    ----------
    model : a ``torch.nn.Module`` returning logits (B, C). It runs in eval mode (batch-norm statistics and no
        dropout, as at scoring time); every module's mode and the model's device are restored afterwards.
    images : (N, ...) floating-point model inputs (a tensor or array, already transformed as the model expects;
        cast to the dtype of the model's parameters).
    labels : (N,) given labels in ``[0, C)``.
    batch_size : instances per vectorised pass; the per-sample gradients take batch_size x n_parameters floats.
    device : where to compute (default: where the model is, else CUDA when available, else the CPU).
    progress : a tqdm bar.

    One ``torch.func.vmap(torch.func.grad(loss))`` per batch, the parameters and buffers passed to
    ``torch.func.functional_call``; the squared norms are summed in float64. Paul, Ganguli, Dziugaite,
    NeurIPS 2021 (GraNd; the paper averages it over initialisations, early in training).
    """
    import torch
    from torch.func import functional_call, grad, vmap
    from tqdm.auto import tqdm

    from ..extract.extraction import evaluating, pick_device

    if not isinstance(model, torch.nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    x = images if isinstance(images, torch.Tensor) else torch.as_tensor(np.asarray(images))
    if x.ndim < 2 or x.shape[0] == 0:
        raise ValueError(f"images must have shape (n_instances, ...) with n_instances >= 1, got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"images must be floating-point model inputs (scale uint8 images first), got {x.dtype}")
    y = check_labels(labels, n=x.shape[0])
    batch_size = check_positive_int(batch_size, "batch_size")
    dev = pick_device(model, device)
    with evaluating(model, dev):
        trainable = {k: v.detach() for k, v in model.named_parameters() if v.requires_grad}
        if not trainable:
            raise ValueError("model has no trainable parameters (requires_grad=True): there is no gradient to take")
        dtype = next(iter(trainable.values())).dtype  # float64 images for a float32 model are cast, as in extract
        frozen = {k: v.detach() for k, v in model.named_parameters() if not v.requires_grad}
        buffers = {k: v.detach() for k, v in model.named_buffers()}
        with torch.no_grad():
            z = model(x[:1].to(dev, dtype))
        if not isinstance(z, torch.Tensor) or z.ndim != 2 or z.shape[0] != 1:
            shape = tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
            raise ValueError(f"the model must return logits of shape (batch, n_classes), got {shape}")
        check_labels(y, n=x.shape[0], n_classes=z.shape[1])

        def loss(params: dict[str, torch.Tensor], xi: torch.Tensor, yi: torch.Tensor) -> torch.Tensor:
            out = functional_call(model, (params, frozen, buffers), (xi.unsqueeze(0),))
            return torch.nn.functional.cross_entropy(out, yi.unsqueeze(0))

        per_sample = vmap(grad(loss), in_dims=(None, 0, 0))
        out = np.empty(x.shape[0], dtype=np.float64)
        bar = tqdm(total=x.shape[0], desc="grand", unit="img", disable=not progress, leave=False)
        for start in range(0, x.shape[0], batch_size):
            xb = x[start : start + batch_size].to(dev, dtype)
            yb = torch.as_tensor(y[start : start + batch_size], device=dev)
            grads = per_sample(trainable, xb, yb)
            squared = sum(g.reshape(len(xb), -1).double().pow(2).sum(dim=1) for g in grads.values())
            out[start : start + len(xb)] = squared.sqrt().cpu().numpy()
            bar.update(len(xb))
        bar.close()
    return out


register(
    Measure(
        name="grand_last_layer",
        perspective="model",
        inputs=("logits", "features", "labels"),
        direction="hard = high",
        range="[0, inf)",
        description="Norm of the final linear layer's loss gradient, ‖p - e_y‖ sqrt(‖h‖² + 1), h = features.",
        reference="Paul, Ganguli, Dziugaite, NeurIPS 2021 (GraNd, last layer in closed form).",
        compute=grand_scores,
    )
)
