"""A multi-layer perceptron over the flattened pixels: the baseline a ConvNet must beat."""

from dataclasses import dataclass

import torch
from omegaconf import MISSING
from torch import nn

from ..config import ModelConfig
from ..datasets import DatasetInfo


@dataclass
class Settings(ModelConfig):
    width: int = MISSING  # units of each hidden layer
    depth: int = MISSING  # number of hidden layers
    dropout: float = MISSING


class MLP(nn.Module):
    """`depth` hidden layers of linear-ReLU-dropout, then a linear head.

    The top-level children (`blocks`, `head`) are the modules whose gradient norms are
    logged, and named when a gradient turns NaN.
    """

    def __init__(self, settings: Settings, info: DatasetInfo) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        features = info.channels * info.size**2
        for _ in range(settings.depth):
            layers += [
                nn.Linear(features, settings.width),
                nn.ReLU(),
                nn.Dropout(settings.dropout),
            ]
            features = settings.width
        self.blocks = nn.Sequential(*layers)
        self.head = nn.Linear(features, len(info.classes))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(images))


build = MLP
