"""A real conda channel on disk, written by hand, for offline solver and installer tests.

Locking an environment needs a channel, and conda-forge is out of reach in tests. This module
writes one that py-rattler accepts as it would conda-forge: one ``repodata.json`` per subdir
and real ``.tar.bz2`` archives holding ``info/index.json`` and ``info/paths.json``. It writes
``repodata.json`` itself with :mod:`json` rather than calling ``rattler.index``, because that
keeps the channel's contents visible here and because py-rattler may abort at interpreter exit
after indexing (see FACTS.md), which must never take a pytest process down.

Virtual packages (``__cuda``, ``__glibc``, ``__osx``, ``__unix``, ``__linux``) are never in
the channel: as with conda-forge, the solver is told about them.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

# 2025-06-01T00:00:00Z in milliseconds: fixed, so that two runs write identical channels.
BASE_TIMESTAMP_MS = 1_748_736_000_000


@dataclass(frozen=True)
class Package:
    """One package record, as ``repodata.json`` lists it.

    ``depends`` and ``constrains`` are conda match specs (``"python >=3.11,<3.12.0a0"``);
    ``timestamp`` is in milliseconds since the epoch, which ``exclude_newer`` compares
    against. A ``noarch`` package that depends on ``python`` is written as ``noarch: python``.
    """

    name: str
    version: str
    build: str = "0"
    build_number: int = 0
    depends: tuple[str, ...] = ()
    constrains: tuple[str, ...] = ()
    subdir: str = "noarch"
    timestamp: int = BASE_TIMESTAMP_MS
    license: str = "BSD-3-Clause"

    @property
    def filename(self) -> str:
        return f"{self.name}-{self.version}-{self.build}.tar.bz2"

    @property
    def noarch(self) -> str | None:
        if self.subdir != "noarch":
            return None
        needs_python = any(dep.split()[0] == "python" for dep in self.depends)
        return "python" if needs_python else "generic"

    def index(self) -> dict[str, object]:
        """The fields that ``info/index.json`` and ``repodata.json`` share."""
        fields: dict[str, object] = {
            "name": self.name,
            "version": self.version,
            "build": self.build,
            "build_number": self.build_number,
            "depends": list(self.depends),
            "constrains": list(self.constrains),
            "subdir": self.subdir,
            "timestamp": self.timestamp,
            "license": self.license,
        }
        if self.noarch:
            fields["noarch"] = self.noarch
        return fields


def _archive(package: Package) -> bytes:
    """A ``.tar.bz2`` holding the metadata and one marker file, so an install leaves a trace.

    A ``noarch: python`` package keeps its marker under ``site-packages/``, which the installer
    moves to the target Python's ``lib/pythonX.Y/site-packages``, as it would a real one.
    """
    prefix = "site-packages" if package.noarch == "python" else "lib"
    marker_path = f"{prefix}/{package.name}-marker.txt"
    marker = f"{package.name} {package.version} {package.build}\n".encode()
    paths = {
        "paths": [
            {
                "_path": marker_path,
                "path_type": "hardlink",
                "sha256": hashlib.sha256(marker).hexdigest(),
                "size_in_bytes": len(marker),
            }
        ],
        "paths_version": 1,
    }
    members = {
        "info/index.json": json.dumps(package.index(), sort_keys=True).encode(),
        "info/paths.json": json.dumps(paths, sort_keys=True).encode(),
        marker_path: marker,
    }
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:bz2") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), package.timestamp // 1000, 0o644
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def write_channel(directory: Path, packages: Iterable[Package]) -> str:
    """Write the channel's archives and ``repodata.json`` files; return its ``file://`` URL.

    Every subdir that a package names gets a ``repodata.json``, and ``noarch`` always does:
    solvers fetch ``noarch`` for every platform and fail when it is missing.
    """
    repodata: dict[str, dict[str, dict[str, object]]] = {"noarch": {}}
    for package in packages:
        data = _archive(package)
        folder = directory / package.subdir
        folder.mkdir(parents=True, exist_ok=True)
        records = repodata.setdefault(package.subdir, {})
        if package.filename in records:  # a second one would silently replace the first
            raise ValueError(f"two packages are {package.subdir}/{package.filename}")
        (folder / package.filename).write_bytes(data)
        records[package.filename] = {
            **package.index(),
            "md5": hashlib.md5(data, usedforsecurity=False).hexdigest(),
            "sha256": hashlib.sha256(data).hexdigest(),
            "size": len(data),
        }
    for subdir, records in repodata.items():
        (directory / subdir).mkdir(parents=True, exist_ok=True)
        document = {
            "info": {"subdir": subdir},
            "packages": dict(sorted(records.items())),
            "packages.conda": {},
            "removed": [],
            "repodata_version": 1,
        }
        (directory / subdir / "repodata.json").write_text(json.dumps(document, indent=1))
    return directory.resolve().as_uri()


def _hash(*parts: object) -> str:
    """A conda-style build hash (``h`` and seven hex digits), stable for the same inputs."""
    return "h" + hashlib.sha1(repr(parts).encode()).hexdigest()[:7]


def _runtime(subdir: str, cxx: bool = False) -> tuple[str, ...]:
    """What a compiled conda-forge package needs from its platform's C/C++ runtime."""
    if subdir.startswith("linux"):
        return ("__glibc >=2.17,<3.0.a0", "libgcc >=14") + (("libstdcxx >=14",) if cxx else ())
    if subdir.startswith("osx"):
        return ("__osx >=11.0",) + (("libcxx >=19",) if cxx else ())
    return ("ucrt >=10.0.20348.0", "vc >=14.3", "vc14_runtime >=14.44.35208")


def _python_pins(python: str) -> tuple[str, ...]:
    """The pins of a package compiled for one Python, e.g. ``python >=3.12,<3.13.0a0``."""
    major, minor = python.split(".")[:2]
    return (
        f"python >={major}.{minor},<{major}.{int(minor) + 1}.0a0",
        f"python_abi {major}.{minor}.* *_cp{major}{minor}",
    )


def _make(
    subdir: str, name: str, version: str, *depends: str, number: int = 0, build: str = ""
) -> Package:
    """A record whose build string, unless given, is a stable hash and the build number."""
    build = build or f"{_hash(name, version, subdir, depends)}_{number}"
    return Package(name, version, build, number, depends, subdir=subdir)


def _table(text: str) -> list[tuple[str, str, tuple[str, ...]]]:
    """Parse a table below into ``(name, version, depends)`` rows."""
    rows = []
    for line in text.replace("\\\n", " ").strip().splitlines():
        head, _, tail = line.partition(":")
        name, version = head.split()
        rows.append((name, version, tuple(d.strip() for d in tail.split(";") if d.strip())))
    return rows


# The tables read "name version: dependency; dependency" (match specs hold commas).
# Pure-Python packages (noarch: python); each also needs "python >=3.10", as on conda-forge.
_NOARCH_PYTHON = """
pip 25.2:
setuptools 80.9.0:
typing_extensions 4.14.1:
typer 0.16.0: click >=8.0.0; rich >=10.11.0; typing_extensions >=3.7.4.3
click 8.2.1: __unix
click 8.2.1: __win; colorama
rich 14.1.0: pygments >=2.13.0,<3.0.0
pygments 2.19.2:
omegaconf 2.3.0: antlr-python-runtime 4.9.*; pyyaml >=5.1.0
antlr-python-runtime 4.9.3:
fsspec 2025.7.0:
filelock 3.18.0:
jinja2 3.1.6: markupsafe >=2.0
networkx 3.5:
sympy 1.14.0: mpmath >=0.19
mpmath 1.3.0:
aiosignal 1.4.0: frozenlist >=1.1.0
attrs 25.3.0:
tqdm 4.67.1: colorama
colorama 0.4.6:
packaging 25.0:
python-dateutil 2.9.0.post0: six >=1.5
six 1.17.0:
tensorboard 2.20.0: absl-py >=0.4; grpcio >=1.48.2; numpy >=1.12.0; protobuf >=3.19.6; \
werkzeug >=1.0.1
absl-py 2.3.1:
werkzeug 3.1.3: markupsafe >=2.1.1
mlflow 3.2.0: mlflow-skinny 3.2.0; flask <4; matplotlib-base <4; sqlalchemy >=1.4.0,<3
mlflow-skinny 3.2.0: click >=7.0,<9; protobuf >=3.12.0,<7; pyyaml >=5.1,<7; requests >=2.17.3,<3
flask 3.1.1: click >=8.1.3; jinja2 >=3.1.2; werkzeug >=3.1.0
requests 2.32.4: certifi >=2017.4.17; idna >=2.5,<4; urllib3 >=1.21.1,<3
certifi 2025.8.3:
idna 3.10:
urllib3 2.5.0:
sentry-sdk 2.34.1: certifi; urllib3 >=1.26.11
pytest 8.4.1: iniconfig >=1; packaging >=20; pluggy >=1.5,<2
iniconfig 2.0.0:
pluggy 1.6.0:
pytest-xdist 3.8.0: pytest >=7.0.0; execnet >=2.1
execnet 2.1.1:
"""

# Compiled Python packages, built for each Python on each subdir.
_COMPILED_PYTHON = """
numpy 2.3.2: libblas >=3.9.0,<4.0a0
pyyaml 6.0.2: yaml >=0.2.5,<0.3.0a0
markupsafe 3.0.2:
frozenlist 1.7.0:
multidict 6.6.3:
yarl 1.20.1: idna >=2.0; multidict >=4.0
aiohttp 3.12.15: aiosignal >=1.4.0; attrs >=17.3.0; frozenlist >=1.1.1; multidict >=4.5,<7.0; \
yarl >=1.17.0,<2.0
pillow 11.3.0: libjpeg-turbo >=3.1.0,<4.0a0; libzlib >=1.3.1,<2.0a0
kiwisolver 1.4.8:
matplotlib-base 3.10.5: kiwisolver >=1.3.1; numpy >=1.23; packaging >=20.0; pillow >=8; \
python-dateutil >=2.7; freetype >=2.13.3,<3.0a0
grpcio 1.73.1: libzlib >=1.3.1,<2.0a0
protobuf 6.31.1:
sqlalchemy 2.0.42: typing_extensions >=4.6.0
psutil 7.0.0:
wandb 0.21.0: click >=7.1,!=8.0.0; protobuf >=3.19.0,!=4.21.0,<7; psutil >=5.0.0; pyyaml; \
requests >=2.0.0,<3; sentry-sdk >=2.0.0
"""

# Native libraries and tools, one build per subdir, each also needing the platform's runtime.
_NATIVE = """
openssl 3.5.2:
libzlib 1.3.1:
bzip2 1.0.8:
libffi 3.4.6:
libsqlite 3.50.4: libzlib >=1.3.1,<2.0a0
yaml 0.2.5:
libopenblas 0.3.30:
libblas 3.9.0: libopenblas >=0.3.30,<1.0a0
libjpeg-turbo 3.1.0:
freetype 2.13.3: libzlib >=1.3.1,<2.0a0
ruff 0.15.2:
"""

PYTHONS = ("3.11.13", "3.12.11", "3.13.5")
# cuda-version: the cuda-cudart/cuda-nvcc version and the cuda-libraries-dev version it pins.
CUDA = {
    "12.6": ("12.6.77", "12.6.3"),
    "12.9": ("12.9.79", "12.9.1"),
    "13.0": ("13.0.96", "13.0.2"),
}
# pytorch version: the cuda-version of its linux-64 cuda* builds.
PYTORCH = {"2.7.1": ("12.6", "12.9"), "2.8.0": ("12.6", "12.9"), "2.9.1": ("12.9", "13.0")}


def _platform_packages(subdir: str) -> list[Package]:
    """The C/C++ runtime, and compilers: gcc/gxx on Linux, clang on macOS, vs2022 on Windows."""
    if subdir.startswith("linux"):
        cc, cxx, version = "gcc", "gxx", "15.1.0"
        runtime = [
            _make(subdir, "libgcc", version, "__glibc >=2.17,<3.0.a0", number=4),
            _make(subdir, "libstdcxx", version, f"libgcc {version}", number=4),
        ]
    elif subdir.startswith("osx"):
        cc, cxx, version = "clang", "clangxx", "19.1.7"
        runtime = [_make(subdir, "libcxx", "20.1.8", "__osx >=11.0", number=1)]
    else:
        cc, cxx, version = "vs2022", "vs2022", "19.44.35207"
        runtime = [
            _make(subdir, "ucrt", "10.0.22621.0", number=1),
            _make(subdir, "vc14_runtime", "14.44.35208", "ucrt >=10.0.20348.0", number=26),
            _make(subdir, "vc", "14.3", "vc14_runtime >=14.42.34433", number=26),
        ]
    major, cc_wrapper, cxx_wrapper = version.split(".")[0], f"{cc}_{subdir}", f"{cxx}_{subdir}"
    return [
        *runtime,
        _make(subdir, cc, version, *_runtime(subdir), number=4),
        _make(subdir, cxx, version, f"{cc} {version}", number=4),
        _make(subdir, cc_wrapper, version, f"{cc} {version}.*", number=11),
        _make(subdir, cxx_wrapper, version, f"{cxx} {version}.*", f"{cc_wrapper} {version}"),
        _make(subdir, "c-compiler", "1.11.0", f"{cc_wrapper} {major}.*"),
        _make(subdir, "cxx-compiler", "1.11.0", "c-compiler 1.11.0", f"{cxx_wrapper} {major}.*"),
        _make(subdir, "compilers", "1.11.0", "c-compiler 1.11.0", "cxx-compiler 1.11.0"),
    ]


def _cuda_packages(subdir: str) -> list[Package]:
    """cuda-version (noarch) and the CUDA components that it pins, for one Linux subdir."""
    packages = []
    for cuda, (runtime, libraries) in CUDA.items():
        major, minor = (int(part) for part in cuda.split("."))
        pin = f"cuda-version >={cuda},<{major}.{minor + 1}.0a0"
        constrains = (f"__cuda >={cuda}", f"cudatoolkit {cuda}|{cuda}.*")
        packages += [
            Package("cuda-version", cuda, "h4f385c5_3", 3, constrains=constrains),
            _make(subdir, "cuda-cudart", runtime, pin, *_runtime(subdir, cxx=True)),
            _make(subdir, "cuda-cudart-dev", runtime, pin, f"cuda-cudart {runtime}"),
            _make(subdir, "cuda-nvcc", runtime, pin, *_runtime(subdir)),
            _make(subdir, "cuda-libraries-dev", libraries, pin, f"cuda-cudart-dev >={runtime}"),
        ]
    return packages


def _pytorch(version: str, python: str, subdir: str, cuda: str | None) -> Package:
    """A conda-forge style pytorch build; ``cuda*`` builds outrank ``cpu*`` by build number."""
    py = "py" + "".join(python.split(".")[:2])
    depends = [*_python_pins(python), *_runtime(subdir, cxx=True), "filelock", "fsspec"]
    depends += ["jinja2", "networkx", "numpy >=1.23,<3", "setuptools", "sympy >=1.13.3"]
    depends += ["typing_extensions >=4.10.0"]
    if subdir.startswith("linux"):
        depends.append("__glibc >=2.28,<3.0.a0")
    variant, number = "cpu", 100
    if cuda:
        variant, number = f"cuda{cuda.replace('.', '')}", 300
        major = int(cuda.split(".")[0])
        depends += [f"cuda-version >={cuda},<{major + 1}", "__cuda", f"cuda-cudart >={cuda}"]
    build = f"{variant}_generic_{py}_{_hash(version, py, variant, subdir)}_{number}"
    return _make(subdir, "pytorch", version, *depends, number=number, build=build)


def realistic_packages(subdirs: Iterable[str] = ("linux-64", "osx-arm64")) -> list[Package]:
    """Packages named and pinned like conda-forge's, enough to lock an ML project.

    Pythons 3.11-3.13; pytorch with ``cuda*`` builds on linux-64 only and ``cpu*`` builds
    everywhere; cuda-version 12.6/12.9/13.0 with the CUDA components it pins (on Linux); the
    usual ML and tooling libraries; compilers.
    """
    packages = [Package("tzdata", "2025b", "h78e105d_0", license="LicenseRef-Public-Domain")]
    for name, version, depends in _table(_NOARCH_PYTHON):
        build = "pyh" + _hash(name, depends)[1:] + "_0"
        packages.append(_make("noarch", name, version, "python >=3.10", *depends, build=build))
    for python in PYTHONS:
        short = ".".join(python.split(".")[:2])
        abi = f"python {short}.* *_cpython"
        packages.append(
            Package("python_abi", short, f"8_cp{short.replace('.', '')}", 8, (), (abi,))
        )
    for subdir in subdirs:
        packages += _platform_packages(subdir)
        if subdir.startswith("linux"):
            packages += _cuda_packages(subdir)
        for name, version, depends in _table(_NATIVE):
            packages.append(_make(subdir, name, version, *_runtime(subdir), *depends))
        for python in PYTHONS:
            needs = ("bzip2", "libffi", "libsqlite", "libzlib", "openssl", "tzdata")
            build = _hash(python, subdir) + "_0_cpython"
            packages.append(
                _make(subdir, "python", python, *_runtime(subdir), *needs, build=build)
            )
            py = "py" + "".join(python.split(".")[:2])
            for name, version, depends in _table(_COMPILED_PYTHON):
                depends = (*_python_pins(python), *_runtime(subdir, cxx=True), *depends)
                build = py + _hash(name, python, subdir) + "_0"
                packages.append(_make(subdir, name, version, *depends, build=build))
            for version, cudas in PYTORCH.items():
                packages.append(_pytorch(version, python, subdir, None))
                if subdir == "linux-64":
                    packages += [_pytorch(version, python, subdir, cuda) for cuda in cudas]
    return list(dict.fromkeys(packages))  # cuda-version is the same for every Linux subdir


def synthetic_channel_packages(scale: int) -> list[Package]:
    """A large channel for benchmarking solves: about 2,100 records per unit of ``scale``.

    Many versions of python, numpy and pytorch (``cuda*`` builds on linux-64, ``cpu*`` builds
    on linux-64 and osx-arm64), CUDA components pinned to cuda-version, and ``__glibc``
    requirements that rise with the version, so that an old glibc makes the solver backtrack.
    """
    cudas = ["11.8", *(f"12.{minor}" for minor in range(10)), "13.0"]
    packages = [Package("cuda-version", c, "h4f385c5_3", 3, (), (f"__cuda >={c}",)) for c in cudas]
    for minor in range(9, 14):
        abi = (f"python 3.{minor}.* *_cpython",)
        packages.append(Package("python_abi", f"3.{minor}", f"8_cp3{minor}", 8, (), abi))
    pure = ("filelock", "fsspec", "jinja2", "networkx", "setuptools", "sympy", "typing_extensions")
    for index in range(30 * scale):  # pytorch's pure-Python dependencies, many versions each
        version = f"{4 + index // 10}.{10 + index % 10}.0"
        packages += [_make("noarch", name, version, "python >=3.9") for name in pure]
    for subdir in ("linux-64", "osx-arm64"):
        linux = subdir == "linux-64"
        packages += _platform_packages(subdir)
        for minor in range(9, 14):
            for patch in range(10 * scale):
                glibc = ("__glibc >=2.17,<3.0.a0",) if linux else ()
                build = _hash(minor, patch, subdir) + "_0_cpython"
                packages.append(_make(subdir, "python", f"3.{minor}.{patch}", *glibc, build=build))
            pins = _python_pins(f"3.{minor}")
            for index in range(70 * scale):
                depends = list(pins)
                if linux:  # the newer half needs a newer glibc
                    depends.append(f"__glibc >=2.{17 if index < 35 * scale else 28},<3.0.a0")
                version = f"{1 + index // 25}.{index % 25}.0"
                packages.append(_make(subdir, "numpy", version, *depends))
            for index in range(30 * scale):
                version = f"2.{index // 5}.{index % 5}"
                for cuda in [None, *cudas[index % 9 : index % 9 + 4]] if linux else [None]:
                    record = _pytorch(version, f"3.{minor}", subdir, cuda)
                    if linux and index >= 25 * scale:  # the newest need a newer glibc
                        record = replace(record, depends=(*record.depends, "__glibc >=2.34"))
                    packages.append(record)
        for cuda in cudas if linux else []:
            pin = f"cuda-version >={cuda},<{cuda}.9999"
            for name in ("cuda-cudart", "cuda-nvrtc", "libcublas", "libcufft", "cuda-nvcc"):
                for patch in range(3 * scale):
                    version = f"{cuda}.{patch}"
                    packages.append(_make(subdir, name, version, pin, "__glibc >=2.17,<3.0.a0"))
    return packages
