"""Input gradients of the given label's logit, d z_y / d x, for every instance: the input of VoG.

Agarwal, D'souza, Hooker, "Estimating example difficulty using variance of gradients", CVPR 2022, eq. 1.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from .._validation import check_labels, check_positive_int
from .extraction import evaluating, iter_batches, pick_device
from .trace import first_tensor


def input_gradients(
    model: nn.Module,
    data: Any,
    labels: Any = None,
    batch_size: int = 256,
    device: str | torch.device | None = None,
) -> np.ndarray:
    """S = d z_y / d x per instance: float32 (N, *input shape), e.g. (N, C, H, W), in dataset order.

    Parameters
    ----------
    model : a classifier returning pre-softmax logits (B, n_outputs).
    data : anything :func:`~difficulty_widget.extract.iter_batches` reads (an ``ImageData``, a dataset with
        ``batch``, an unshuffled ``DataLoader``, a pair ``(inputs, labels)``); inputs as the model takes them.
    labels : (N,) the class y whose logit is differentiated; default the labels the data yields.
    batch_size : instances per backward pass.
    device : where to compute (default: see :func:`~difficulty_widget.extract.pick_device`).

    One forward and one backward pass per batch: the gradient of sum_i z_{i, y_i} with respect to the input batch.
    Its i-th row is exactly d z_{i, y_i} / d x_i because in eval mode the samples of a batch do not interact
    (batch norm uses its running statistics, dropout is off), so d z_j / d x_i = 0 for j != i. A model whose eval
    forward mixes the samples of a batch would need ``batch_size=1``. The model runs in eval mode; every module's
    mode and the model's device are restored afterwards, and the parameters' ``.grad`` are left untouched
    (``torch.autograd.grad`` with respect to the inputs only).
    """
    batch_size = check_positive_int(batch_size, "batch_size")
    dev = pick_device(model, device)
    n, batches = iter_batches(data, batch_size)
    if n == 0:
        raise ValueError("data is empty: expected at least one instance")
    given = None if labels is None else check_labels(labels, n=n)
    out: np.ndarray | None = None
    start = 0
    with evaluating(model, dev), torch.enable_grad():
        for x, y in batches:
            stop = start + len(x)
            if stop > n:
                raise ValueError(f"data yielded more than its length ({n}) instances")
            target = torch.as_tensor(given[start:stop]) if given is not None else torch.as_tensor(y)
            x = x.to(dev).detach().requires_grad_(True)
            z = first_tensor(model(x))
            if z is None or z.ndim != 2 or z.shape[0] != len(x):
                shape = None if z is None else tuple(z.shape)
                raise ValueError(f"the model must return logits of shape (batch, n_classes), got {shape}")
            target = target.to(dev, torch.int64).reshape(-1)
            if len(target) != len(x) or int(target.min()) < 0 or int(target.max()) >= z.shape[1]:
                raise ValueError(f"labels must lie in [0, {z.shape[1]}) (the model's outputs), one per instance")
            (grad,) = torch.autograd.grad(z.gather(1, target[:, None]).sum(), x)
            if out is None:
                out = np.empty((n, *grad.shape[1:]), dtype=np.float32)
            out[start:stop] = grad.float().cpu().numpy()
            start = stop
    if start != n:
        raise ValueError(f"data yielded {start} instances but has length {n}")
    return out
