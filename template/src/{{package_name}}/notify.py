"""A message when a run finishes, fails or is preempted: for runs that last hours.

Off unless the user names one or more apprise URLs (ntfy://, mailto://, slack://,
json://host/path, ...; https://github.com/caronc/apprise/wiki): in <PACKAGE>_NOTIFY
(space-separated), or, when that is unset, one per line in the user's config file
~/.config/<package>/notify (under $XDG_CONFIG_HOME if set). The setting belongs to the
user, not the repository, and is never committed; an empty <PACKAGE>_NOTIFY turns the file
off for one shell or job. Sending needs the optional extra:
pip install --editable '.[notify]'.

A notification can never harm the run: it is sent from a background thread that the run
waits for at most SEND_TIMEOUT seconds, and any failure is a warning on stderr.
"""

import os
import sys
import threading
from pathlib import Path

VARIABLE = f"{__package__.upper()}_NOTIFY"
SEND_TIMEOUT = 10.0  # seconds the run waits for the message to go, at most


def user_file() -> Path:
    """The user's notification settings, outside every repository."""
    config = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(config, __package__, "notify")


def user_urls() -> str:
    """The apprise URLs the user set, space-separated; empty when notifications are off."""
    if VARIABLE in os.environ:
        return os.environ[VARIABLE].strip()
    try:
        lines = user_file().read_text(encoding="utf-8").splitlines()
    except OSError:  # no file: off
        return ""
    if user_file().stat().st_mode & 0o077:  # as ssh does with keys: URLs hold secrets
        print(
            f"warning: {user_file()} holds tokens and others can read it: chmod 600 it",
            file=sys.stderr,
        )
    return " ".join(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def notify(title: str, body: str, level: str = "success") -> None:
    """Send `title` and `body` to the user's notification URLs, if they set any.

    `level` (success, warning or failure) is what services show as colour or icon.
    """
    urls = user_urls()
    if not urls:
        return
    outcome: list[str] = []
    sender = threading.Thread(target=_send, args=(urls, title, body, level, outcome), daemon=True)
    sender.start()
    sender.join(SEND_TIMEOUT)
    if sender.is_alive():
        outcome.append(f"no answer within {SEND_TIMEOUT:.0f} s")
    for problem in outcome:
        print(f"warning: notification not sent: {problem}", file=sys.stderr)


def _send(urls: str, title: str, body: str, level: str, outcome: list[str]) -> None:
    try:
        import apprise
    except ImportError:
        outcome.append("apprise is not installed: pip install --editable '.[notify]'")
        return
    try:
        kind = {
            "success": apprise.NotifyType.SUCCESS,
            "warning": apprise.NotifyType.WARNING,
            "failure": apprise.NotifyType.FAILURE,
        }[level]
        # One URL at a time: a bad one must not silence the others, and a refusal names
        # its URL (by position and scheme: the rest may hold a token).
        for number, url in enumerate(urls.split(), start=1):
            service = apprise.Apprise()
            if not service.add(url):
                outcome.append(f"apprise does not understand URL {number} ({_masked(url)})")
            elif not service.notify(title=title, body=body, notify_type=kind):
                outcome.append(f"the service of URL {number} ({_masked(url)}) did not accept it")
    except Exception as error:  # whatever goes wrong, the run goes on
        outcome.append(f"{type(error).__name__}: {error}")


def _masked(url: str) -> str:
    """The URL's scheme only: the rest may hold a password or a token, not for a log."""
    scheme, separator, _ = url.partition("://")
    return f"{scheme}://..." if separator else "no scheme, such as ntfy://"
