"""scaffold: generate complete, working ML research repositories and keep them up to date."""

__version__ = "0.5.0"
