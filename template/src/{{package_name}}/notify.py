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
import time
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

    `level` (success, warning or failure) is what services show as colour or icon. Each URL
    is sent to from a thread of its own, all at once: a bad or silent service must not
    hold back the others, and a problem names its URL (by position and scheme only: the
    rest may hold a token).
    """
    urls = user_urls().split()
    if not urls:
        return
    try:
        import apprise
    except ImportError:
        _warn("apprise is not installed: pip install --editable '.[notify]'")
        return
    kind = {
        "success": apprise.NotifyType.SUCCESS,
        "warning": apprise.NotifyType.WARNING,
        "failure": apprise.NotifyType.FAILURE,
    }[level]
    problems: dict[int, str] = {}  # URL number -> what went wrong, filled by the senders
    senders = [  # daemons: a sender still waiting must not keep the process alive
        threading.Thread(
            target=_send, args=(url, title, body, kind, problems, number), daemon=True
        )
        for number, url in enumerate(urls, start=1)
    ]
    deadline = time.monotonic() + SEND_TIMEOUT
    for sender in senders:
        sender.start()
    for number, sender in enumerate(senders, start=1):
        sender.join(max(0.0, deadline - time.monotonic()))
        if sender.is_alive():
            problems[number] = f"no answer within {SEND_TIMEOUT:.0f} s"
    for number, problem in sorted(problems.items()):
        _warn(f"URL {number} ({_masked(urls[number - 1])}): {problem}")


def _send(url: str, title: str, body: str, kind, problems: dict[int, str], number: int) -> None:
    import apprise

    try:
        service = apprise.Apprise()
        if not service.add(url):
            problems[number] = "apprise does not understand it"
        elif not service.notify(title=title, body=body, notify_type=kind):
            problems[number] = "its service did not accept it"
    except Exception as error:  # whatever goes wrong, the run goes on
        problems[number] = f"{type(error).__name__}: {error}"


def _warn(problem: str) -> None:
    print(f"warning: notification not sent: {problem}", file=sys.stderr)


def _masked(url: str) -> str:
    """The URL's scheme only: the rest may hold a password or a token, not for a log."""
    scheme, separator, _ = url.partition("://")
    return f"{scheme}://..." if separator else "no scheme, such as ntfy://"
