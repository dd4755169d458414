"""The models, one module each: `model.name=mlp` in the config picks models/mlp.py.

A model module defines `Settings`, a dataclass extending config.ModelConfig with the
model's own typed settings (their values live in configs/model/NAME.yaml), and
`build(settings, info)`, which returns the nn.Module for a dataset described by `info`
(datasets.DatasetInfo: classes, channels, image size). Adding a model is adding a module
and its config file; nothing else names it.
"""

import importlib
import pkgutil
from types import ModuleType

from ..config import ConfigError


def names() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def get(name: str) -> ModuleType:
    """The module of model `name`; an unknown name is a config error listing the known ones."""
    if name not in names():
        raise ConfigError(f"model.name: no model {name!r}; known: {', '.join(names())}")
    return importlib.import_module(f"{__name__}.{name}")


def build(settings, info):
    """The configured model (settings.name) for the dataset `info` describes."""
    return get(settings.name).build(settings, info)
