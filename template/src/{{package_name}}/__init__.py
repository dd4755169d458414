"""The project's code: its command line lives in cli.py."""

from importlib.metadata import version

__version__ = version(__name__.replace("_", "-"))
