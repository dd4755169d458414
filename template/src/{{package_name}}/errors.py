"""The problems a user can fix: the command line shows them as one line, not a traceback.

A module of its own, importing nothing, so that commands which never touch torch (download,
preprocess, --help) can recognise every such problem without importing the modules that
raise them.
"""


class UserError(Exception):
    """Base of the errors whose message says what went wrong and what to do about it."""
