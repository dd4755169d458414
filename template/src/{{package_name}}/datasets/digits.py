"""Handwritten digits, 8x8 grayscale (scikit-learn's bundled copy of the UCI set, BSD-3).

The smoke dataset: a few hundred real images in tests/fixtures/digits/, written once by
tests/fixtures/make_fixture.py in the idx format, so they travel the same download,
checksum and parsing code as Fashion-MNIST. Learnable in seconds, but not trivially.
"""

from . import DatasetInfo
from .fashion_mnist import Settings, download, preprocess

INFO = DatasetInfo(
    classes=tuple(str(digit) for digit in range(10)),
    channels=1,
    size=8,
    mean=(0.3045,),  # of the fixture's training images
    std=(0.3757,),
)
__all__ = ["INFO", "Settings", "download", "preprocess"]
