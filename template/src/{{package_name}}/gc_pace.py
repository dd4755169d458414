"""The garbage collector's pace: deferred while a command starts, Python's own for long work.

Importing torch, and the torch._dynamo that its optimisers import, makes some 300,000
long-lived objects, and the collector walked that growing heap again and again: ~0.7 s a
command. So every command starts with collection deferred (`defer`: after a million new
objects instead of Python's default), and long work goes back to Python's pace (`resume`):
training before its first step, the demo before it serves. Until then only reference
cycles wait longer to be freed (the smoke loop's peak memory grows by ~4%); eval and infer,
one pass over their data, keep the deferred pace until they exit.
"""

import gc

PYTHON_THRESHOLDS = gc.get_threshold()  # before any change: (700, 10, 10) up to 3.12


def defer() -> None:
    gc.set_threshold(1_000_000, *PYTHON_THRESHOLDS[1:])


def resume() -> None:
    """From here on a reference cycle holding a tensor, left by a training step or a web
    request, must not wait for a million new objects.

    What the start-up made moves to the oldest generation first (`gc.freeze`, then
    `gc.unfreeze`: two lists spliced, nothing walked, nothing left frozen). The young
    collections, frequent from here on, then walk only what the work makes; before, the
    first two walked the whole start-up heap, 0.4 s of the smoke loop's 7 s.
    """
    gc.freeze()
    gc.unfreeze()
    gc.set_threshold(*PYTHON_THRESHOLDS)
