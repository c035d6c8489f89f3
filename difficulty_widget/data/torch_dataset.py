"""A torch view of uint8 image arrays (imported lazily: the rest of ``data`` does not need torch)."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from .._validation import check_images, check_labels


def images_to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W[, 3]) -> float32 tensor (N, C, H, W) scaled to [0, 1]."""
    x = torch.from_numpy(np.ascontiguousarray(images))
    x = x.unsqueeze(1) if x.ndim == 3 else x.permute(0, 3, 1, 2)
    return x.float().div_(255.0)


class ImageArrayDataset(Dataset):
    """Map-style dataset over uint8 arrays: items are (float image C x H x W in [0, 1], label).

    ``batch(start, stop)`` returns a whole batch at once; ``extract`` and the trainer use it to skip the
    per-item overhead of a DataLoader.
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray) -> None:
        self.images = check_images(images)
        self.labels = check_labels(labels, n=len(self.images))

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return images_to_tensor(self.images[index : index + 1])[0], int(self.labels[index])

    def batch(self, start: int, stop: int) -> tuple[torch.Tensor, torch.Tensor]:
        return images_to_tensor(self.images[start:stop]), torch.from_numpy(self.labels[start:stop])

    def batch_index(self, index: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """The instances at the given positions as one batch."""
        return images_to_tensor(self.images[index]), torch.from_numpy(self.labels[index])
