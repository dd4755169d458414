"""Fashion-MNIST (Zalando Research, MIT licence): 28x28 grayscale clothes in 10 classes.

Raw files are the idx format of the MNIST family, gzip-compressed, fetched from mirrors
and md5-verified; configs/data/fashion_mnist.yaml lists both. See data/README.md.
"""

from dataclasses import dataclass
from pathlib import Path

from omegaconf import MISSING

from ..config import DataConfig
from ..data import read_idx, record, save_split
from ..download import fetch
from ..errors import MissingInputError
from . import DatasetInfo

INFO = DatasetInfo(
    classes=(
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ),
    channels=1,
    size=28,
    mean=(0.2860,),  # of the training images
    std=(0.3530,),
)
SPLITS = {"train": "train", "test": "t10k"}  # split -> prefix of its idx files


@dataclass
class Settings(DataConfig):
    mirrors: list[str] = MISSING  # base URLs or directories tried in order
    files: dict[str, str] = MISSING  # file name -> published md5


def download(settings: Settings, config_hash: str) -> list[Path]:
    """Fetch every raw file and record it in the data manifest."""
    root = Path(settings.root)
    paths = []
    for name, md5 in settings.files.items():
        path = fetch(name, settings.mirrors, md5, root / "raw")
        record(root, path, source=settings.mirrors, config_hash=config_hash, md5=md5)
        paths.append(path)
    return paths


def preprocess(settings: Settings, config_hash: str) -> list[Path]:
    """Decode the raw idx files into compact arrays and record them in the manifest."""
    root = Path(settings.root)
    missing = [name for name in settings.files if not (root / "raw" / name).is_file()]
    if missing:
        raise MissingInputError(
            f"{root / 'raw'} lacks {', '.join(missing)}: run `{__package__.split('.')[0]} "
            "download` first, with the same options (e.g. --smoke)"
        )
    return [
        save_split(
            root,
            split,
            read_idx(root / "raw" / f"{prefix}-images-idx3-ubyte.gz"),
            read_idx(root / "raw" / f"{prefix}-labels-idx1-ubyte.gz"),
            source=[f"raw/{prefix}-*-idx?-ubyte.gz"],
            config_hash=config_hash,
        )
        for split, prefix in SPLITS.items()
    ]
