"""The tensors the model sees: processed Fashion-MNIST images, normalised, with labels."""

import torch
from torch.utils.data import TensorDataset

from .config import DataConfig
from .data import MEAN, STD, load_split


def make_dataset(config: DataConfig, split: str) -> TensorDataset:
    """Split 'train', 'val' or 'test' as (image [1, 28, 28] float, label) pairs in memory."""
    images, labels = load_split(config, split)
    return TensorDataset(normalize(torch.from_numpy(images)), torch.from_numpy(labels).long())


def normalize(images: torch.Tensor) -> torch.Tensor:
    """uint8 images (N, 28, 28) -> float (N, 1, 28, 28) with the training set's mean and std."""
    return ((images.float() / 255 - MEAN) / STD).unsqueeze(1)
