"""A real PyPI-style package index on loopback, for locking `pip:` sections offline.

Writes pure-Python wheels (zip files with the metadata pip reads) and a PEP 503 "simple"
index of them, served by http.server on 127.0.0.1; each link carries the wheel's sha256,
as PyPI's do, which is what a lock records.
"""

import base64
import hashlib
import html
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def write_wheel(directory: Path, name: str, version: str, requires: tuple[str, ...] = ()) -> Path:
    """A `py3-none-any` wheel of a one-module package `name`."""
    module = name.replace("-", "_")
    dist_info = f"{module}-{version}.dist-info"
    files = {
        f"{module}/__init__.py": f'__version__ = "{version}"\n',
        f"{dist_info}/METADATA": "Metadata-Version: 2.1\n"
        f"Name: {name}\nVersion: {version}\n"
        + "".join(f"Requires-Dist: {requirement}\n" for requirement in requires),
        f"{dist_info}/WHEEL": "Wheel-Version: 1.0\nGenerator: tests\n"
        "Root-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
    files[f"{dist_info}/RECORD"] = "\n".join([*record, f"{dist_info}/RECORD,,"]) + "\n"
    wheel = directory / f"{module}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel


def write_index(root: Path, wheels: list[Path]) -> None:
    """`root/simple/<project>/index.html` for each project, linking its wheels by hash."""
    by_project: dict[str, list[Path]] = {}
    for wheel in wheels:
        by_project.setdefault(wheel.name.split("-")[0].replace("_", "-").lower(), []).append(wheel)
    for project, files in by_project.items():
        page = root / "simple" / project / "index.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        links = "".join(
            f'<a href="../../files/{html.escape(wheel.name)}#sha256='
            f'{hashlib.sha256(wheel.read_bytes()).hexdigest()}">{html.escape(wheel.name)}</a>\n'
            for wheel in files
        )
        page.write_text(f"<!DOCTYPE html><html><body>\n{links}</body></html>\n")


@contextmanager
def serve(root: Path) -> Iterator[str]:
    """Serve `root` on a free loopback port; yields the index URL (…/simple/)."""
    handler = partial(SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None  # type: ignore[method-assign]
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/simple/"
    finally:
        server.shutdown()
        server.server_close()
