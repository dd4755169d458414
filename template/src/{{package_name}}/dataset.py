"""The tensors the model sees: a dataset's processed images, normalised, with labels."""

import torch
from torch.utils.data import TensorDataset

from .config import DataConfig
from .data import load_split
from .datasets import DatasetInfo, info


def make_dataset(config: DataConfig, split: str) -> TensorDataset:
    """Split 'train', 'val' or 'test' as (image [C, H, W] float, label) pairs in memory."""
    images, labels = load_split(config, split)
    return TensorDataset(
        normalize(torch.from_numpy(images), info(config)), torch.from_numpy(labels).long()
    )


def normalize(images: torch.Tensor, info: DatasetInfo) -> torch.Tensor:
    """uint8 images (N, H, W[, C]) -> float (N, C, H, W) with the dataset's mean and std."""
    images = images.unsqueeze(-1) if images.ndim == 3 else images
    mean, std = torch.tensor(info.mean), torch.tensor(info.std)
    return ((images.float() / 255 - mean) / std).permute(0, 3, 1, 2).contiguous()


def unnormalize(images: torch.Tensor, info: DatasetInfo) -> torch.Tensor:
    """The inverse of `normalize`, back to uint8 (N, H, W[, C]) to look at."""
    mean, std = torch.tensor(info.mean), torch.tensor(info.std)
    pixels = (images.permute(0, 2, 3, 1) * std + mean) * 255
    pixels = pixels.round().clamp(0, 255).byte()
    return pixels[..., 0] if pixels.shape[-1] == 1 else pixels
