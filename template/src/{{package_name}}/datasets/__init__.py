"""The datasets, one module each: `data.name=digits` in the config picks datasets/digits.py.

A dataset module defines
  INFO         a DatasetInfo: classes, image shape and normalisation, which every stage
               (train, eval, infer, plots) reads from here and nowhere else;
  Settings     a dataclass extending config.DataConfig with the dataset's own typed
               settings (their values live in configs/data/NAME.yaml);
  download(settings, config_hash) and preprocess(settings, config_hash): the two data
               stages; preprocess writes <root>/processed/{train,test}.npz (data.save_split,
               whose `corrupt` names the items it could not read, e.g. image files that do
               not decode) and both return the paths they wrote. The data-quality checks
               (quality.py) then run on what it wrote, the same for every dataset.
Adding a dataset is adding a module and its config file; nothing else names it.
"""

import importlib
import pkgutil
from dataclasses import dataclass
from types import ModuleType

from ..config import ConfigError


@dataclass(frozen=True)
class DatasetInfo:
    """What every stage needs to know about a dataset's examples."""

    classes: tuple[str, ...]
    channels: int  # 1: grayscale images stored (N, H, W); else (N, H, W, channels)
    size: int  # images are size x size pixels
    mean: tuple[float, ...]  # per channel, of pixels scaled to [0, 1], for normalisation
    std: tuple[float, ...]


def names() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def get(name: str) -> ModuleType:
    """The module of dataset `name`; an unknown name is a config error listing the known ones."""
    if name not in names():
        raise ConfigError(f"data.name: no dataset {name!r}; known: {', '.join(names())}")
    return importlib.import_module(f"{__name__}.{name}")


def info(settings) -> DatasetInfo:
    """The metadata of the configured dataset (settings.name)."""
    return get(settings.name).INFO
