"""The training objective as named, weighted terms, each logged on its own.

`train.loss_weights` in the config picks the terms and weighs them, e.g. with a term
`confidence_penalty` added to TERMS below:

    loss_weights: {cross_entropy: 1.0, confidence_penalty: 0.1}

The loss is the weighted sum; the tracker gets every term raw (`loss/NAME`) and weighted
(`loss/NAME_weighted`), so each term's start, end, trend and scale can be seen. A term is a
function of the logits and the labels returning a scalar: add one to TERMS.
"""

import torch
import torch.nn.functional as F

from .config import ConfigError


def cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits, labels)


TERMS = {"cross_entropy": cross_entropy}


def check(weights: dict[str, float]) -> None:
    """Every configured term must exist; an empty objective trains nothing."""
    unknown = sorted(set(weights) - set(TERMS))
    if unknown:
        raise ConfigError(
            f"train.loss_weights: no loss term {', '.join(unknown)}; known: {', '.join(TERMS)}"
        )
    if not weights:
        raise ConfigError("train.loss_weights is empty: name at least one term of losses.py")


def terms(
    logits: torch.Tensor, labels: torch.Tensor, weights: dict[str, float]
) -> dict[str, torch.Tensor]:
    """Each configured term, unweighted."""
    return {name: TERMS[name](logits, labels) for name in weights}


def weighted_sum(raw: dict[str, torch.Tensor], weights: dict[str, float]) -> torch.Tensor:
    return sum(weights[name] * value for name, value in raw.items())
