"""A message when a run finishes, fails or is preempted: for runs that last hours.

Off unless <PACKAGE>_NOTIFY holds one or more apprise URLs (ntfy://, mailto://, slack://,
json://host/path, ...; https://github.com/caronc/apprise/wiki). The setting belongs to
the user, not the repository: export it in your shell profile or the job script, never
commit it. Sending needs the optional extra: pip install '.[notify]'.

A notification can never harm the run: it is sent from a background thread that the run
waits for at most SEND_TIMEOUT seconds, and any failure is a warning on stderr.
"""

import os
import sys
import threading

VARIABLE = f"{__package__.upper()}_NOTIFY"
SEND_TIMEOUT = 10.0  # seconds the run waits for the message to go, at most


def notify(title: str, body: str, level: str = "success") -> None:
    """Send `title` and `body` to the user's notification URLs, if they set any.

    `level` (success, warning or failure) is what services show as colour or icon.
    """
    urls = os.environ.get(VARIABLE, "").strip()
    if not urls:
        return
    outcome: list[str] = []
    sender = threading.Thread(target=_send, args=(urls, title, body, level, outcome), daemon=True)
    sender.start()
    sender.join(SEND_TIMEOUT)
    if sender.is_alive():
        outcome.append(f"no answer within {SEND_TIMEOUT:.0f} s")
    for problem in outcome:
        print(f"warning: notification not sent ({VARIABLE}): {problem}", file=sys.stderr)


def _send(urls: str, title: str, body: str, level: str, outcome: list[str]) -> None:
    try:
        import apprise
    except ImportError:
        outcome.append("apprise is not installed: pip install '.[notify]'")
        return
    try:
        sender = apprise.Apprise()
        if not sender.add(urls):
            outcome.append(f"no usable apprise URL in {urls!r}")
            return
        kind = {
            "success": apprise.NotifyType.SUCCESS,
            "warning": apprise.NotifyType.WARNING,
            "failure": apprise.NotifyType.FAILURE,
        }[level]
        if not sender.notify(title=title, body=body, notify_type=kind):
            outcome.append("the service did not accept it (see apprise's log)")
    except Exception as error:  # whatever goes wrong, the run goes on
        outcome.append(f"{type(error).__name__}: {error}")
