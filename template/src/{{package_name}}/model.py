"""A small convolutional classifier whose size is set by the config (tiny in smoke runs)."""

import torch
from torch import nn

from .config import ModelConfig


class ConvNet(nn.Module):
    """`depth` blocks of conv-ReLU-pool (each halves the 28x28 image and doubles the width),
    then a linear head over the flattened features.

    The top-level children (`blocks`, `head`) are the modules whose gradient norms are
    logged, and named when a gradient turns NaN.
    """

    def __init__(self, config: ModelConfig, num_classes: int, image_size: int = 28) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 1
        for index in range(config.depth):
            width = config.width * 2**index
            layers += [nn.Conv2d(channels, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
            channels = width
            image_size //= 2
        self.blocks = nn.Sequential(*layers)
        self.head = nn.Linear(channels * image_size**2, num_classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(images).flatten(start_dim=1))
