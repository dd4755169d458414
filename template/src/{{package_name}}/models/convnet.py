"""A small convolutional classifier whose size is set by the config."""

from dataclasses import dataclass

import torch
from omegaconf import MISSING
from torch import nn

from ..config import ConfigError, ModelConfig
from ..datasets import DatasetInfo


@dataclass
class Settings(ModelConfig):
    width: int = MISSING  # channels of the first conv block, doubled per block
    depth: int = MISSING  # number of conv blocks (each halves the image)


class ConvNet(nn.Module):
    """`depth` blocks of conv-ReLU-pool (each halves the image and doubles the width),
    then a linear head over the flattened features.

    The top-level children (`blocks`, `head`) are the modules whose gradient norms are
    logged, and named when a gradient turns NaN.
    """

    def __init__(self, settings: Settings, info: DatasetInfo) -> None:
        super().__init__()
        if info.size < 2**settings.depth:
            raise ConfigError(
                f"model.depth {settings.depth} halves {info.size}-pixel images to nothing"
            )
        layers: list[nn.Module] = []
        channels, size = info.channels, info.size
        for index in range(settings.depth):
            width = settings.width * 2**index
            layers += [nn.Conv2d(channels, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
            channels, size = width, size // 2
        self.blocks = nn.Sequential(*layers)
        self.head = nn.Linear(channels * size**2, len(info.classes))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(images).flatten(start_dim=1))


build = ConvNet
