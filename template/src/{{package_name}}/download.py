"""Fetch files from http(s)://, file://, s3://, gs:// or a plain path, verified and resumable.

fsspec opens every kind of source the same way (s3:// needs `pip install s3fs`, gs://
needs `pip install gcsfs`, hf:// the project's `[hf]` extra). A download goes to
`<name>.part`; an interrupted one resumes from where it stopped (a ranged request), and only
a file whose checksum (md5 for data, sha256 for weights) matches the published one is moved
into place. Network errors are retried with back-off, mirror after mirror.
"""

import contextlib
import hashlib
import re
import socket
import time
import urllib.request
from pathlib import Path

import fsspec
from tqdm import tqdm

from .errors import UserError

CHUNK = 1 << 20
NO_NAME = "the host name does not resolve"
PROXY_DOWN = "cannot reach the proxy"


class DownloadError(UserError, RuntimeError):
    """A file could not be fetched intact from any mirror."""


def digest_of(path: Path, algorithm: str = "md5") -> str:
    digest = hashlib.new(algorithm, usedforsecurity=False)
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def md5_of(path: Path) -> str:
    return digest_of(path, "md5")


def fetch(name: str, mirrors: list[str], md5: str, dest_dir: Path, attempts: int = 3) -> Path:
    """Download `name` from the first mirror that serves it intact; return its local path.

    A file already present with the right md5 is not fetched again.
    """
    md5 = md5.lower()  # as md5sum prints it, or as a web page may
    if not re.fullmatch(r"[0-9a-f]{32}", md5):  # caught before the download, not after it
        raise DownloadError(
            f"{name}'s md5 {md5!r} is not 32 hexadecimal digits (md5sum prints it); in YAML "
            'quote it ("..."): one made of digits and an e reads as a number'
        )
    return fetch_verified(
        [mirror.rstrip("/") + "/" + name for mirror in mirrors],
        dest_dir / name,
        md5,
        attempts=attempts,
        offline_hint=(
            "Download on a machine with network access and copy data/ over, or point the "
            "mirrors at a local copy of the files, e.g. "
            f'`{__package__} download "data.mirrors=[file:///path/to/files/]"`.'
        ),
    )


def fetch_verified(
    urls: list[str],
    dest: Path,
    checksum: str,
    algorithm: str = "md5",
    attempts: int = 3,
    offline_hint: str = "",
) -> Path:
    """Download `dest` from the first of `urls` that serves it with this checksum.

    A file already present with the right checksum is not fetched again. Failures that may
    pass (a timeout, a server error, a connection cut) are retried with back-off; a host
    that cannot be reached, a file that is not there and a URL that served other content
    are not asked again. The error names each URL's last failure once.
    """
    if dest.is_file() and digest_of(dest, algorithm) == checksum:
        return dest
    made = [folder for folder in (dest.parent, *dest.parent.parents) if not folder.exists()]
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(dest.name + ".part")
    problems: dict[str, str] = {}  # each URL's last failure, in words
    settled: set[str] = set()  # URLs a retry cannot help
    cut_off: set[str] = set()  # URLs whose host could not be reached
    corrupt: set[str] = set()  # URLs that served other content
    for attempt in range(attempts):
        for url in urls:
            if url in settled:
                continue
            try:
                _copy_resuming(url, partial)
            except Exception as error:  # noqa: BLE001 (each filesystem raises its own types)
                if unreachable := _unreachable(error, url):
                    problems[url] = unreachable
                    cut_off.add(url)
                    settled.add(url)
                elif isinstance(error, FileNotFoundError):  # a local path, or HTTP's 404
                    problems[url] = "no such file there"
                    settled.add(url)
                else:
                    problems[url] = f"{type(error).__name__}: {error}"
                continue
            actual = digest_of(partial, algorithm)
            if actual == checksum:
                partial.replace(dest)
                return dest
            partial.unlink()
            problems[url] = f"{algorithm} {actual}, expected {checksum} (corrupt or changed file)"
            corrupt.add(url)
            settled.add(url)
        if settled == set(urls):
            break
        time.sleep(min(2**attempt, 30) if attempt + 1 < attempts else 0)
    for folder in made:  # deepest first; a folder holding a partial file stays, to resume
        with contextlib.suppress(OSError):
            folder.rmdir()
    raise DownloadError(_failure(dest.name, problems, cut_off, corrupt, offline_hint))


def _failure(
    name: str, problems: dict[str, str], cut_off: set[str], corrupt: set[str], hint: str
) -> str:
    """Why no URL gave the file: a headline, each URL's reason, and what may help."""
    if cut_off == set(problems):
        offline = all(problems[url] == NO_NAME for url in cut_off)
        headline = "the network is unreachable" if offline else "no mirror could be reached"
    else:
        headline = "no mirror served it intact" if corrupt else "no mirror served it"
    lines = [f"could not download {name}: {headline}"]
    lines += [f"  {url}: {problem}" for url, problem in problems.items()]
    if any(problems[url].startswith(PROXY_DOWN) for url in cut_off):
        lines.append("Check the proxy that http_proxy or https_proxy names, or unset it.")
    elif cut_off:
        lines.append(
            "Where the internet is reached through a proxy, name it: export "
            f"https_proxy=http://HOST:PORT (and http_proxy). {hint}"
        )
    return "\n".join(lines)


def _unreachable(error: BaseException, url: str) -> str:
    """Why the host of `url` could not be reached, if that is what `error` (or what caused
    it) says; "" for any other failure."""
    chain, seen = [], error
    while seen is not None:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    names = {type(seen).__name__ for seen in chain}  # aiohttp's, under fsspec's http(s)
    if "ClientProxyConnectionError" in names:  # https_proxy or http_proxy names it
        proxy = urllib.request.getproxies().get(url.split("://")[0].lower(), "")
        return f"{PROXY_DOWN} {proxy}".rstrip()
    if "ClientConnectorDNSError" in names or any(
        isinstance(seen, socket.gaierror) for seen in chain
    ):
        return NO_NAME
    if any(isinstance(seen, ConnectionRefusedError) for seen in chain):
        return "connection refused (no server listens there)"
    if "ClientConnectorError" in names:
        return f"cannot connect ({error})"
    return ""


def _options(url: str) -> dict:
    """fsspec's options for `url`. Over http(s), the proxy the environment names
    (https_proxy, http_proxy, no_proxy) and ~/.netrc's logins, as curl and pip use them: on
    many clusters the nodes reach the internet only through a proxy."""
    if url.split("://")[0].lower() in {"http", "https"}:
        return {"client_kwargs": {"trust_env": True}}
    return {}


def _copy_resuming(url: str, partial: Path) -> None:
    offset = partial.stat().st_size if partial.exists() else 0
    try:
        _copy_from(url, partial, offset)
    except ValueError:  # fsspec's answer when a server ignores ranged requests
        if not offset:
            raise
        partial.unlink()  # it can only send the whole file: start over
        _copy_from(url, partial, 0)


def _copy_from(url: str, partial: Path, offset: int) -> None:
    """Append `url`'s bytes from `offset` on to `partial`."""
    with fsspec.open(url, "rb", **_options(url)) as remote:
        size = getattr(remote, "size", None)
        if offset and size is not None and offset >= size:
            offset = 0  # a stale or oversized partial file: start over
            partial.unlink()
        if offset:
            remote.seek(offset)
        with (
            partial.open("ab") as local,
            tqdm(
                total=size,
                initial=offset,
                unit="B",
                unit_scale=True,
                desc=partial.stem,
                leave=False,
                disable=None,
            ) as progress,
        ):
            while chunk := remote.read(CHUNK):
                local.write(chunk)
                progress.update(len(chunk))
