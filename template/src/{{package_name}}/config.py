"""Typed, layered configuration: base.yaml -> experiment -> smoke -> command-line overrides.

The dataclasses below are the schema: every key a YAML file may set, with its type. The
values live in configs/*.yaml. Loading merges the layers in order with OmegaConf, which
rejects unknown keys and wrong types; the error names the key and the file.

The model and the dataset are chosen by name (`model.name=mlp`, `data.name=digits`): the
name is a module of models/ or datasets/, whose `Settings` dataclass extends ModelConfig
or DataConfig with its own typed settings, and whose values are configs/model/NAME.yaml
or configs/data/NAME.yaml (merged before base.yaml, so every later layer overrides them).
"""

import copy
import functools
import io
import math
import os
import sys
from dataclasses import asdict, dataclass, field, fields, is_dataclass, make_dataclass
from pathlib import Path
from typing import Any

import yaml
from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import (
    InterpolationResolutionError,
    MissingMandatoryValue,
    OmegaConfBaseException,
)

from .errors import UserError, did_you_mean

CONFIG_DIR = Path("configs")
# The environment variables configs/*.yaml read (`${oc.env:NAME,default}`) to move folders.
FOLDER_VARIABLES = [
    f"{__package__.upper()}_{name}" for name in ("RUNS_DIR", "DATA_ROOT", "WEIGHTS_DIR")
]


@dataclass
class DataQuality:
    """Where `preprocess` stops trusting the data; its figures go to <root>/quality/report.md."""

    max_corrupt_fraction: float = MISSING  # of a split's items: unreadable, or not a class
    max_within_split_fraction: float = MISSING  # of a split's images: copies of another in it
    max_cross_split_fraction: float = MISSING  # of val or test images: also in an earlier split
    min_per_class: int = MISSING  # examples of every class in each of train, val and test


@dataclass
class DataConfig:
    """What every dataset has; its module's `Settings` adds the dataset's own settings."""

    name: str = MISSING  # a module of datasets/, e.g. fashion_mnist
    root: str = MISSING  # raw/, processed/ and manifest.json live here (scratch on clusters)
    val_size: int = MISSING  # last N training images, held out for validation
    num_workers: int = MISSING
    quality: DataQuality = field(default_factory=DataQuality)


@dataclass
class ModelConfig:
    """What every model has; its module's `Settings` adds the model's own settings."""

    name: str = MISSING  # a module of models/, e.g. convnet or mlp
    init_from: str | None = None  # start from pretrained weights: a name in `weights`, or a path


@dataclass
class SmokeChecks:
    """The learning signal a smoke run must show, set for the smoke dataset (smoke.yaml)."""

    enabled: bool = MISSING
    min_loss_drop: float = MISSING  # validation loss must fall by this fraction of its start
    min_accuracy: float = MISSING  # final validation accuracy (chance is 1 / classes)
    overfit_loss: float = MISSING  # before training, a fresh model must fit one batch below this


@dataclass
class TrainConfig:
    batch_size: int = MISSING  # global batch: split over processes and accumulation steps
    grad_accum_steps: int = MISSING
    lr: float = MISSING
    weight_decay: float = MISSING
    warmup_steps: int = MISSING
    max_steps: int = MISSING
    grad_clip: float = MISSING  # max global gradient norm; 0 disables clipping
    precision: str = MISSING  # auto | fp32 | bf16 | fp16 (mixed precision on CUDA only)
    log_every: int = MISSING
    histogram_every: int = MISSING
    eval_every: int = MISSING
    checkpoint_every: int = MISSING
    keep_last: int = MISSING  # checkpoints kept besides the best one
    loss_weights: dict[str, float] = MISSING  # the loss terms (losses.py) and their weights
    inspect_inputs: bool = MISSING  # save a grid and statistics of the first batch the model sees
    log_activations: list[str] = MISSING  # modules whose outputs are logged, e.g. [blocks.0]


@dataclass
class WeightsSource:
    """An external checkpoint: where to fetch it, and its sha256 (checked when fetched)."""

    url: str = MISSING  # https://, s3://, gs://, hf:// (with the [hf] extra), file:// or a path
    sha256: str = MISSING


@dataclass
class Config:
    seed: int = MISSING
    deterministic: bool = MISSING  # bit-exact reruns, at some cost in speed
    smoke: bool = MISSING  # a quick check of the code, not an experiment
    runs_dir: str = MISSING  # base.yaml alone sets it: every command reads it from there
    require_pushed: bool = False  # a long run refuses a commit that no remote holds
    weights_dir: str = MISSING  # where `fetch-weights` keeps pretrained weights (not in git)
    weights: dict[str, WeightsSource] = field(default_factory=dict)  # NAME: {url, sha256}
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    smoke_checks: SmokeChecks = field(default_factory=SmokeChecks)


class ConfigError(UserError, ValueError):
    """A config file or override that does not fit the schema; the message says where."""


def load_config(
    experiment: str | None = None,
    smoke: bool = False,
    overrides: list[str] | None = None,
    check_model: bool = True,
    overrides_from: str = "command line",
) -> Config:
    """Merge base.yaml, the experiment file, smoke.yaml and `key=value` overrides, in order.

    `check_model=False` takes the model settings as written, without importing the model's
    module (and torch): for the data stages, which do not build a model. `overrides_from`
    is where errors say the overrides were written.
    """
    _check_environment()
    paths = [_base_path()]
    if experiment:
        paths.append(_experiment_path(experiment))
    if smoke:
        paths.append(CONFIG_DIR / "smoke.yaml")
    layers = []
    for path in paths:
        if not path.is_file():
            raise ConfigError(f"{path}: no such config file{_suggestion(path)}")
        layers.append((str(path), _load(path)))
    if overrides:
        layers.append((overrides_from, _parsed_overrides(overrides, overrides_from)))
    for source, layer in layers[1:]:
        if "runs_dir" in layer:
            raise ConfigError(
                f"{source}: runs_dir is where every command, eval and infer too, looks for "
                f"runs, so it is set in one place: {paths[0]}, or the environment variable "
                f"{__package__.upper()}_RUNS_DIR (e.g. {__package__.upper()}_RUNS_DIR="
                "/scratch/runs)"
            )
    schema = _schema(*(layer for _, layer in layers), check_model=check_model)
    try:
        merged = OmegaConf.merge(schema, *(layer for _, layer in layers))
    except OmegaConfBaseException:  # again one layer at a time, to name the one at fault
        chosen = OmegaConf.merge(*(layer for _, layer in layers))  # the schema's model, data
        merged = schema
        for source, layer in layers:
            merged = _merge(merged, layer, source, chosen)
    missing = sorted(OmegaConf.missing_keys(merged))
    if missing:
        raise ConfigError(f"no value for {', '.join(missing)}: set it in {paths[0]}")
    try:
        config = OmegaConf.to_object(merged)
    except InterpolationResolutionError as error:  # e.g. ${oc.env:NAME} of a variable not set
        reason = str(error).splitlines()[0]  # (the others repeat the key and the schema)
        raise ConfigError(f"{error.full_key}: its value cannot be resolved: {reason}") from None
    assert isinstance(config, Config)
    _check_values(config)
    return config


def base_setting(key: str) -> Any:
    """One setting of base.yaml, resolved as load_config resolves it (`${oc.env:...}`), but
    without the schema, whose model and dataset modules import numpy and more: for `runs`
    and `compare`, which need to know where runs live, not a checked config."""
    _check_environment()
    path = _base_path()
    value = OmegaConf.select(_load(path), key)
    if value is None:
        raise ConfigError(f"no value for {key}: set it in {path}")
    return value


def _check_environment() -> None:
    """A folder variable set but empty would put runs or data in the project's root, or in
    /smoke (YAML's default applies only to a variable that is not set at all)."""
    for name in FOLDER_VARIABLES:
        value = os.environ.get(name)
        if value == "":
            raise ConfigError(
                f"${name} is set but empty: unset it (unset {name}), or name a folder"
            )
        if value and value.startswith("~"):  # quoted, the shell left it: a folder named ~
            raise ConfigError(
                f"${name} is {value!r}, with a ~ the shell did not expand: write $HOME "
                "instead, or leave the ~ out of quotes"
            )


def _base_path() -> Path:
    path = CONFIG_DIR / "base.yaml"
    if not path.is_file():
        raise ConfigError(
            f"{path}: no such config file: run the commands in the project (the folder "
            "holding configs/) or in a folder below it"
        )
    return path


def _suggestion(path: Path) -> str:
    """'; did you mean wide? (experiments: wide)' for a misspelt file of a config folder."""
    known = sorted(p.stem for p in path.parent.glob("*.yaml")) if path.parent.is_dir() else []
    if not known:
        return ""
    return f"{did_you_mean(path.stem, known)} ({path.parent.name}: {', '.join(known)})"


def _experiment_path(experiment: str) -> Path:
    path = Path(experiment)
    return (
        path
        if path.suffix in {".yaml", ".yml"}
        else CONFIG_DIR / "experiment" / f"{experiment}.yaml"
    )


def _schema(*layers, values: bool = True, check_model: bool = True):
    """The schema with the chosen model's and dataset's settings (and their YAML values)."""
    from . import datasets, models

    try:
        chosen = OmegaConf.merge(*layers)
    except (OmegaConfBaseException, TypeError) as error:  # TypeError: e.g. train=[1]
        reason = str(error).splitlines()[0]
        found = (_section_given_a_value(layers[0], layer) for layer in layers[1:])
        if key := next(filter(None, found), None):  # base.yaml holds every section
            reason = f"key '{key}': {key} holds settings, not one value: set one of them"
        raise ConfigError(f"the config layers do not merge: {reason}") from None
    parts = []
    for section, modules in (("model", models), ("data", datasets)):
        name = OmegaConf.select(chosen, f"{section}.name")
        if name is None:
            raise ConfigError(f"no {section}.name: set it in {CONFIG_DIR / 'base.yaml'}")
        path = CONFIG_DIR / section / f"{name}.yaml"
        if section == "model" and not check_model:
            settings = _untyped(ModelConfig, path, *(layer.get(section) for layer in layers))
        else:
            settings = modules.get(str(name)).Settings
        text = path.read_text(encoding="utf-8") if values and path.is_file() else None
        parts.append((section, settings, str(path), text))
    return _built_schema(tuple(parts))


@functools.lru_cache(maxsize=8)
def _built_schema(parts: tuple[tuple[str, type, str, str | None], ...]) -> DictConfig:
    """The schema for (section, Settings, path, text of the file) parts, kept per process:
    it takes tens of milliseconds, and a command may build it several times (eval reads
    the run's config twice; smoke loads seven configs). Callers only merge into it, which
    copies it; they never change it. The key holds the file's text, not its time: an edit
    between two loads is always seen."""
    schema = OmegaConf.structured(Config)
    for section, settings, path, text in parts:
        schema[section] = OmegaConf.structured(settings)
        if text is not None:
            schema = _merge(schema, {section: copy.deepcopy(_parsed(path, text))}, path)
    return schema


def _load(path: Path) -> DictConfig:
    """A YAML file as a config: parsed once per process for each text the file holds (smoke
    reads base.yaml ten times), then copied, which is three times faster than parsing."""
    return copy.deepcopy(_parsed(str(path), path.read_text(encoding="utf-8")))


@functools.lru_cache(maxsize=32)
def _parsed(path: str, text: str) -> DictConfig:
    """A config file's text, parsed; a YAML slip is one line naming the file and the line."""
    stream = io.StringIO(text)
    stream.name = os.path.abspath(path)
    try:
        loaded = OmegaConf.load(stream)
    except yaml.YAMLError as error:
        mark, begun = getattr(error, "problem_mark", None), getattr(error, "context_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        context = getattr(error, "context", None)
        if context and begun:  # e.g. "while parsing a flow sequence": where it began
            problem += f" ({context} begun at line {begun.line + 1})"
        raise ConfigError(f"{path} is not valid YAML{where}: {problem}") from None
    if not isinstance(loaded, DictConfig):  # e.g. a list: it would merge with nothing
        raise ConfigError(f"{path} holds a list: a config file holds keys and their values")
    return loaded


def _fields_missing_from(saved, current, prefix: str = "") -> list[str]:
    """The schema's fields (dotted) that a saved config lacks: the schema gained them since.

    A dict-typed setting (e.g. train.loss_weights) is one field: keys in it are the run's
    choices, and a key configs/ has now but the run had not was not part of the run.
    """
    found = []
    for key in current:
        name = f"{prefix}{key}"
        if key not in saved:
            found.append(name)
        elif is_dataclass(OmegaConf.get_type(current, key)) and isinstance(saved[key], DictConfig):
            found += _fields_missing_from(saved[key], current[key], f"{name}.")
    return found


def _untyped(base: type, *sources) -> type:
    """A Settings class taking every key the sources set, of any type: checked later."""
    keys: dict[str, None] = {}  # in the order of the sources: configs/model/NAME.yaml first
    for source in sources:
        if isinstance(source, Path):
            source = _load(source) if source.is_file() else None
        keys.update(dict.fromkeys(source or ()))
    known = {field.name for field in fields(base)}
    return make_dataclass(
        "Settings", [(key, Any, MISSING) for key in keys if key not in known], bases=(base,)
    )


def _parsed_overrides(overrides: list[str], source: str) -> DictConfig:
    """`key=value` overrides as one config layer; values are YAML (`train.lr=3e-4`)."""
    parsed = []
    for item in overrides:
        key, equals, _ = item.partition("=")
        if not (equals and key.strip()):
            example = "e.g. train.lr=3e-4"
            raise ConfigError(f"{source}: overrides must be key=value ({example}): {item}")
        try:
            parsed.append(OmegaConf.from_dotlist([item]))
        except (OmegaConfBaseException, yaml.YAMLError) as error:
            reason = " ".join(str(error).split())
            raise ConfigError(f"{source}: {item} is no valid value for {key}: {reason}") from None
    return OmegaConf.merge(*parsed)


def _merge(base, layer, source: str, chosen=None):
    """`layer` merged into `base`; a ConfigError naming `source` and the key at fault when it
    does not fit (`chosen`: the layers merged, for the model and dataset they choose;
    default: `base`'s)."""
    try:
        return OmegaConf.merge(base, layer)
    except OmegaConfBaseException as error:
        key = getattr(error, "full_key", "") or "?"
        reason = str(error).splitlines()[0]
        if "ListConfig" in reason:
            reason += " (a list: write it as key=[a,b])"
        elif "is not a subclass of" in reason:  # e.g. train=3
            key = _section_given_a_value(base, layer) or key
            reason = f"{key} holds settings, not one value: set one of them, e.g. {key}.NAME=..."
        section = key.split(".")[0]
        if "not in 'Settings'" in reason and section in {"model", "data"}:
            name = OmegaConf.select(base if chosen is None else chosen, f"{section}.name")
            reason = f"{section}.name={name} has no such setting (its Settings list them)"
        raise ConfigError(f"{source}: key '{key}': {reason}") from None


def _section_given_a_value(base, layer, prefix: str = "") -> str | None:
    """The dotted key where `layer` gives one value for what `base` holds as settings."""
    for key in layer:
        value, held = layer[key], base.get(key) if isinstance(base, DictConfig) else None
        if isinstance(held, DictConfig):
            if not isinstance(value, DictConfig | dict):
                return f"{prefix}{key}"
            if found := _section_given_a_value(held, value, f"{prefix}{key}."):
                return found
    return None


def _check_values(config: Config) -> None:
    quality = config.data.quality
    for name in ("max_corrupt_fraction", "max_within_split_fraction", "max_cross_split_fraction"):
        if not 0 <= getattr(quality, name) <= 1:
            raise ConfigError(f"data.quality.{name} must be a fraction, from 0 to 1")
    if quality.min_per_class < 0:
        raise ConfigError("data.quality.min_per_class must be at least 0")
    if config.data.val_size < 1:
        raise ConfigError("data.val_size must be at least 1: validation needs images")
    train = config.train
    for name in ("lr", "weight_decay", "grad_clip"):  # AdamW would say so in a traceback
        value = getattr(train, name)
        if not math.isfinite(value) or value < 0:
            raise ConfigError(f"train.{name} must be a finite number, 0 or more, not {value}")
    if train.warmup_steps < 0:
        raise ConfigError(f"train.warmup_steps must be 0 or more, not {train.warmup_steps}")
    if config.data.num_workers < 0:
        raise ConfigError(
            "data.num_workers must be 0 (load in the training process) or more, "
            f"not {config.data.num_workers}"
        )
    if train.precision not in {"auto", "fp32", "bf16", "fp16"}:
        raise ConfigError(
            f"train.precision must be auto, fp32, bf16 or fp16, not {train.precision!r}"
        )
    for name in (
        "batch_size",
        "grad_accum_steps",
        "max_steps",
        "log_every",
        "eval_every",
        "checkpoint_every",
        "histogram_every",
        "keep_last",  # (0 would delete the checkpoint just written, even a preempted run's)
    ):
        if getattr(train, name) < 1:
            raise ConfigError(f"train.{name} must be at least 1")
    if train.batch_size % train.grad_accum_steps:
        raise ConfigError("train.batch_size must be divisible by train.grad_accum_steps")


def to_yaml(config: Config) -> str:
    """The resolved config as YAML, as saved in every run directory."""
    return OmegaConf.to_yaml(asdict(config))  # the same text, in half the time of structured()


def from_yaml(path: Path) -> Config:
    """Read a config saved by `to_yaml` (e.g. a run's config.yaml), validating it again.

    A run made before the schema gained a field still loads: the field takes the value the
    configs give it now (base.yaml, the model's and dataset's files, and smoke.yaml for a
    smoke run), and a note on stderr names every field filled. A saved key the code no
    longer knows (or a value of the wrong type) cannot be guessed: that is an error naming
    the key and what to do.
    """
    try:
        saved = _load(path)
        layers = [_load(CONFIG_DIR / "base.yaml")]
        if saved.get("smoke"):
            layers.append(_load(CONFIG_DIR / "smoke.yaml"))
        merged = OmegaConf.merge(_schema(*layers, saved, values=False), saved)
    except OmegaConfBaseException as error:
        key = getattr(error, "full_key", "") or "?"
        raise ConfigError(
            f"{path} does not fit this version of the code at key '{key}' "
            f"({str(error).splitlines()[0]}): the code changed since the run. Use the code "
            "the run used (its commit is in manifest.json: `git worktree add ../old COMMIT`), "
            f"or edit {path} to match configs/base.yaml."
        ) from None
    filled, predated = [], _fields_missing_from(saved, merged)
    current = OmegaConf.merge(_schema(*layers, saved), *layers, saved) if predated else None
    for key in predated:
        try:
            value = OmegaConf.select(current, key, throw_on_missing=True)
        except MissingMandatoryValue:
            continue  # configs/ has no value for it either: an error, below
        OmegaConf.update(merged, key, value, merge=False)
        filled.append(key)
    if filled:
        sys.stderr.write(
            f"note: {path} predates {', '.join(filled)}: using the values configs/ gives now.\n"
        )
    unset = sorted(OmegaConf.missing_keys(merged))
    if unset:
        raise ConfigError(
            f"{path} predates {', '.join(unset)}, and configs/ gives no value to fill in: "
            f"set one in {CONFIG_DIR / 'base.yaml'}, or in {path} for this run alone"
        )
    config = OmegaConf.to_object(merged)
    assert isinstance(config, Config)
    return config
