"""A web page to try a run's model: upload or pick an image, see its class probabilities.

`demo RUN` serves it on this machine alone (127.0.0.1) unless told otherwise. Each image
goes through infer.predict, read, resized and normalised exactly as `infer` does it, so
the page and the command agree; the classes and the image shape come from the run's
dataset (its DatasetInfo), so the page fits every model and dataset of the project. The
header names the run and its commit: a screenshot of the page says what it shows.
Gradio is an optional extra (pip install --editable '.[demo]'), imported here alone:
no other command pays for its import.
"""

import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from . import gc_pace
from .config import Config, from_yaml
from .data import load_split
from .datasets import DatasetInfo, info
from .errors import InvalidInputError, MissingExtraError, MissingInputError
from .evaluate import load_model
from .history import short_commit, summary
from .infer import predict

if TYPE_CHECKING:
    import gradio

TOP_CLASSES = 5  # probability bars on the page


@dataclass(frozen=True)
class Demo:
    """A run's model, loaded once, and what the page says about the run."""

    run_dir: Path
    config: Config
    info: DatasetInfo
    model: torch.nn.Module
    commit: str  # as the runs table shows it: 8 hex digits, '*' for uncommitted changes


def load(run_dir: Path) -> Demo:
    """The run's best weights on the CPU (one image at a time needs no GPU)."""
    config = from_yaml(run_dir / "config.yaml")
    recorded = (run_dir / "manifest.json").is_file() and short_commit(summary(run_dir))
    return Demo(
        run_dir,
        config,
        info(config.data),
        load_model(run_dir, config=config),
        recorded or "not recorded",
    )


def classify(demo: Demo, image: Path) -> tuple[dict[str, float], str]:
    """Every class's probability for the image file, and the predicted class: what `infer`
    writes for it."""
    (record,), _ = predict(demo.model, demo.info, [Path(image)])  # unreadable: an error
    return {name: record[f"p_{name}"] for name in demo.info.classes}, record["prediction"]


def header(demo: Demo) -> str:
    """Which run answers, at which commit, and what it expects (Markdown)."""
    channels = {1: "grayscale", 3: "RGB"}.get(demo.info.channels, f"{demo.info.channels}-channel")
    return (
        f"Run **{demo.run_dir.name}**, commit `{demo.commit}`: model `{demo.config.model.name}` "
        f"on `{demo.config.data.name}`, {len(demo.info.classes)} classes. Images are "
        f"read as {demo.info.size}x{demo.info.size} {channels}, as `infer` reads them."
    )


def examples(demo: Demo) -> tuple[list[np.ndarray], list[str]]:
    """One test image per class from the run's preprocessed data, and its true class.

    None when the data is not on this machine: uploads still work.
    """
    try:
        images, labels = load_split(demo.config.data, "test")
    except MissingInputError:
        return [], []
    classes, first = np.unique(labels, return_index=True)  # each class's first image
    return (
        [images[index] for index in first],
        [f"{demo.info.classes[c]} (test image {i})" for c, i in zip(classes, first, strict=True)],
    )


def build(run_dir: Path) -> "gradio.Blocks":
    """The page: an image in; the predicted class and the top classes' probabilities out."""
    gr = import_gradio()
    demo = load(run_dir)
    pictures, captions = examples(demo)

    def answer(image: str | None) -> dict[str, float]:
        if image is None:
            raise gr.Error("Upload an image, or pick one of the examples, first.")
        return classify(demo, Path(image))[0]  # the Label shows the most probable as its title

    return gr.Interface(
        answer,
        # The uploaded file itself reaches infer, unconverted; examples are saved as PNG,
        # losslessly.
        inputs=gr.Image(
            type="filepath",
            image_mode=None,
            format="png",
            height=320,
            label="Image",
            elem_id="image",
        ),
        outputs=gr.Label(num_top_classes=TOP_CLASSES, label="Prediction", elem_id="prediction"),
        examples=pictures or None,
        example_labels=captions or None,
        title=f"{__package__} demo",
        description=header(demo),
        flagging_mode="never",
        analytics_enabled=False,
    )


def check_address(host: str, port: int) -> None:
    """Refuse a taken port or an address not this machine's at once, before the seconds
    that importing Gradio and loading the model take. The probes bind as the server does:
    on the address (SO_REUSEADDR: a port that the last demo left in TIME_WAIT is free), and
    on 127.0.0.1, where Gradio tries the port first whatever the address. `start` still
    catches what changes in between."""
    try:
        for name in dict.fromkeys((_server_name(host), "127.0.0.1")):
            found = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)[0]
            family, kind, _, _, address = found
            with socket.socket(family, kind) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                probe.bind(address)
    except OSError as error:  # socket.gaierror (an unknown host name) included
        raise _cannot_serve(host, port, error) from None


def url(host: str, port: int) -> str:
    """The page's address as a browser takes it (an IPv6 address in brackets)."""
    name = _server_name(host)
    return f"http://[{name}]:{port}" if ":" in name else f"http://{name}:{port}"


def _server_name(host: str) -> str:
    """--host as the server reads it: [::1] is ::1, and no host is 127.0.0.1."""
    return host.strip("[]") or "127.0.0.1"


def start(page: "gradio.Blocks", host: str = "127.0.0.1", port: int = 7860) -> None:
    """Start serving the page in the background; 127.0.0.1 keeps it to this machine.

    The caller says where it is, then waits in page.block_thread() until Ctrl-C: the
    address is announced only once the server listens there.
    """
    gc_pace.resume()  # a server runs for hours: see gc_pace.py
    _reach_directly("127.0.0.1", "localhost", "::1", _server_name(host))
    try:
        page.launch(
            server_name=host, server_port=port, share=False, quiet=True, prevent_thread_lock=True
        )
    except OSError as error:  # Gradio's word for a port in use or an address not ours
        raise _cannot_serve(host, port, error) from None


def _reach_directly(*hosts: str) -> None:
    """Requests to `hosts` bypass the environment's proxy. Gradio asks its own page whether
    it answers, over HTTP; a proxy cannot reach this machine's loopback, and where no_proxy
    lacks 127.0.0.1 (a common one lists localhost alone) Gradio failed to start."""
    for name in ("no_proxy", "NO_PROXY"):
        os.environ[name] = ",".join(filter(None, [os.environ.get(name), *hosts]))


def _cannot_serve(host: str, port: int, error: OSError) -> InvalidInputError:
    return InvalidInputError(
        f"cannot serve on {host}:{port}: the port is taken or the address is not this "
        f"machine's; pick another --port or --host ({error})"
    )


def import_gradio():
    """Gradio, with its usage reports off, or an error that says how to install it."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    try:
        import gradio
    except ImportError:
        raise MissingExtraError(
            "the demo needs Gradio: pip install --editable '.[demo]'"
        ) from None
    return gradio
