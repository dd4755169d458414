"""`scaffold lock`: pin a generated repo's conda environment for every platform, offline.

Reads `environment.yml` (category main), `environment-dev.yml` (category dev) and
`virtual-packages.yml`, solves each platform with py-rattler (in a subprocess: see
conda_solve.py), and writes `conda-lock.yml` in conda-lock's v1 format. No conda, mamba
or micromamba is needed, and a local channel (`--channel file:///...`) needs no network.

Packages reachable from the main specs are category `main` (what the Docker image and
`micromamba create -f conda-lock.yml` install); the rest are `dev`. `update=[...]` moves
only the named packages: every other package stays pinned to its locked build. A `pip:`
section is resolved by pip itself, per platform (pip_solve.py), into hashed entries.
"""

import difflib
import json
import re
import subprocess
import sys
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scaffold import conda_exe, lockfile, pip_solve
from scaffold.errors import ScaffoldError
from scaffold.interrupts import termination_as_interrupt

DEFAULT_CHANNEL_ALIAS = "https://conda.anaconda.org"
# The platforms (conda's subdirs) a lock can hold, as py-rattler knows them; any other
# name stopped its solver with a panic.
CONDA_PLATFORMS = (
    *("linux-32", "linux-64", "linux-aarch64", "linux-armv6l", "linux-armv7l"),
    *("linux-loongarch64", "linux-ppc64le", "linux-ppc64", "linux-ppc", "linux-s390x"),
    *("linux-riscv32", "linux-riscv64", "freebsd-32", "freebsd-64", "freebsd-arm64"),
    *("freebsd-ppc64le", "freebsd-ppc64", "osx-64", "osx-arm64", "ios-arm64"),
    *("iossimulator-arm64", "iossimulator-64", "android-aarch64", "android-armv7a"),
    *("android-64", "android-32", "win-32", "win-64", "win-arm64", "emscripten-wasm32"),
    *("emscripten-wasm64", "wasi-wasm32", "zos-z"),
)


@dataclass(frozen=True)
class EnvironmentSpec:
    """What the environment files ask for, per platform, with selectors applied."""

    channels: list[str]
    platforms: list[str]
    main: dict[str, list[str]]
    dev: dict[str, list[str]]
    virtual_packages: dict[str, dict[str, str]]
    sources: list[str] = field(default_factory=list)
    pip: dict[str, list[str]] = field(default_factory=dict)  # category -> PyPI requirements


@dataclass(frozen=True)
class LockResult:
    """What `lock` wrote: packages per platform, and what moved since the previous lock."""

    path: Path
    packages: dict[str, int]
    changes: list[str]
    local_channels: list[str] = field(default_factory=list)  # file:// channels it names

    def local_note(self) -> str | None:
        """Who cannot install the lock, when its package URLs point into this machine."""
        return local_warning(self.local_channels) if self.local_channels else None


def local_channels(lock: dict[str, Any]) -> list[str]:
    """The channels of this machine that the lock's packages come from, in order: folders
    (file://) and servers on the loopback interface (a mirror served with `python -m
    http.server`). A lock that names them installs only here, not in the Docker build nor
    in CI."""
    channels: list[str] = []
    for package in lock.get("package") or []:
        url = str(package.get("url", ""))
        if _on_this_machine(url):
            # A conda package lies in its channel's platform folder; a wheel in its index.
            channel = url.rsplit("/", 2 if package.get("manager") == "conda" else 1)[0]
            if channel not in channels:
                channels.append(channel)
    return channels


def _on_this_machine(url: str) -> bool:
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme == "file":
        return True
    host = (parsed.hostname or "").lower()
    return host == "localhost" or host == "::1" or host.startswith("127.")


def local_warning(channels: list[str]) -> str:
    """Who cannot install a lock whose packages come from `channels`, on this machine."""
    return (
        f"Its packages come from {', '.join(channels)}: only machines with that folder (or "
        "server) can install this lock (not the Docker build, nor CI). Where the public "
        "channels answer, run `scaffold lock` again before you push."
    )


def selected(selector: str | None, platform: str) -> bool:
    """Whether a `# [selector]` line applies to `platform` (conda-lock's one-word selectors)."""
    if selector is None:
        return True
    system, _, arch = platform.partition("-")
    matches = {
        "linux": system == "linux",
        "osx": system == "osx",
        "win": system == "win",
        "unix": system in {"linux", "osx"},
        "linux64": platform == "linux-64",
        "aarch64": platform == "linux-aarch64",
        "arm64": platform == "osx-arm64",
        "x86_64": arch == "64" and system in {"linux", "osx"},
    }
    if selector not in matches:
        raise ScaffoldError(f"Unknown selector '# [{selector}]': use one of {', '.join(matches)}.")
    return matches[selector]


# Any `# [...]` is a selector, so that one this reader does not know (`# [not osx]`) is
# refused by `selected` instead of being read as a plain comment, for every platform.
_ITEM = re.compile(
    r"^(?P<indent>\s*)-\s*(?P<spec>[^#]*?)\s*(#\s*\[(?P<selector>[^\]]*)\].*|#.*)?$"
)


def dependency_lines(text: str) -> list[tuple[str, str | None]]:
    """The conda `dependencies:` of an environment file as (spec, selector) pairs.

    Read line by line, because selectors live in comments that a YAML parser drops. A
    `- pip:` entry and its sub-list are PyPI packages, not conda specs, and are skipped.
    """
    specs: list[tuple[str, str | None]] = []
    inside = False
    item_indent: int | None = None
    for line in text.splitlines():
        if re.match(r"^dependencies:\s*(#.*)?$", line):
            inside = True
            continue
        if not inside or not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line[0].isspace() and not line.startswith("-"):
            break  # the next top-level key
        item = _ITEM.match(line)
        if not item:
            continue
        indent = len(item.group("indent"))
        item_indent = indent if item_indent is None else item_indent
        spec = item.group("spec").strip().strip("'\"")
        if indent == item_indent and spec and spec != "pip:":
            selector = item.group("selector")
            specs.append((spec, None if selector is None else selector.strip()))
    return specs


def require_environment(project: Path) -> None:
    """Refuse a folder with no environment to lock: not a generated repo, or not its root."""
    if not (project / lockfile.ENVIRONMENT_FILE).is_file():
        raise ScaffoldError(
            f"{project} has no {lockfile.ENVIRONMENT_FILE}: run `scaffold lock` in a "
            "generated repo (or pass its path)."
        )


def read_spec(project: Path) -> EnvironmentSpec:
    """Read the environment files of `project`; errors name the file and the fix."""
    require_environment(project)
    main_file = project / lockfile.ENVIRONMENT_FILE
    main_text = main_file.read_text(encoding="utf-8")
    main_yaml = _yaml_mapping(main_file, main_text, "`channels:`, `platforms:`, `dependencies:`")
    platforms = [str(p) for p in main_yaml.get("platforms") or []]
    channels = [str(c) for c in main_yaml.get("channels") or []]
    if not platforms or not channels:
        raise ScaffoldError(f"{main_file} must list its `channels:` and `platforms:`.")
    for platform in platforms:
        if platform not in CONDA_PLATFORMS:
            close = difflib.get_close_matches(platform, CONDA_PLATFORMS, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ScaffoldError(
                f"{main_file}: {platform!r} is not a conda platform{hint}; the platforms are "
                f"{', '.join(CONDA_PLATFORMS)}."
            )
    if (hooks_read := lockfile.declared_platforms(project)) != platforms:
        raise ScaffoldError(
            f"{main_file}: write `platforms:` as a plain list, one platform per line "
            "(`  - linux-64`): the commit hooks read it without a YAML parser, and read "
            f"{hooks_read} where YAML reads {platforms}."
        )
    dev_file = project / lockfile.DEV_ENVIRONMENT_FILE
    dev_text = dev_file.read_text(encoding="utf-8") if dev_file.is_file() else ""
    dev_yaml = _yaml_mapping(dev_file, dev_text, "`dependencies:`")
    # The dev file's channels join the main file's, after them, as conda-lock joins them.
    channels += [c for c in map(str, dev_yaml.get("channels") or []) if c not in channels]
    dev_lines = dependency_lines(dev_text)
    main_lines = dependency_lines(main_text)
    main = {p: [s for s, sel in main_lines if selected(sel, p)] for p in platforms}
    dev = {p: [s for s, sel in dev_lines if selected(sel, p)] for p in platforms}
    for platform, specs in main.items():
        if not specs:
            raise ScaffoldError(f"{main_file} leaves no dependencies for {platform}.")
    sources = [name for name in lockfile.INPUT_FILES[:2] if (project / name).is_file()]
    pip = {"main": _pip_requirements(main_yaml)}
    if dev_file.is_file():
        pip["dev"] = _pip_requirements(dev_yaml)
    return EnvironmentSpec(
        channels, platforms, main, dev, _virtual_packages(project, platforms), sources, pip
    )


def _yaml_mapping(path: Path, text: str, keys: str) -> dict[str, Any]:
    """`text` of `path` as a YAML mapping; else a one-line error naming the file, the line
    and the keys it should hold, not a parser's traceback."""
    import yaml

    try:
        loaded = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f", line {mark.line + 1}," if mark else ""
        problem = getattr(error, "problem", None) or "unreadable"
        raise ScaffoldError(
            f"{path}{where} is not valid YAML ({problem}): fix it there, then lock again."
        ) from None
    if not isinstance(loaded, dict):
        raise ScaffoldError(
            f"{path} holds a YAML {type(loaded).__name__}, not a mapping: write its keys "
            f"({keys}) at the top level, then lock again."
        )
    return loaded


def _pip_requirements(environment: dict[str, Any]) -> list[str]:
    """The `- pip:` sub-list of an environment file's dependencies."""
    for item in environment.get("dependencies") or []:
        if isinstance(item, dict) and "pip" in item:
            return [str(requirement) for requirement in item["pip"] or []]
    return []


def _virtual_packages(project: Path, platforms: list[str]) -> dict[str, dict[str, str]]:
    """`virtual-packages.yml` (conda-lock's format) per platform; required for CUDA locks."""
    path = project / lockfile.VIRTUAL_PACKAGES_FILE
    if not path.is_file():
        raise ScaffoldError(
            f"{project} has no {lockfile.VIRTUAL_PACKAGES_FILE}: it says which machines the "
            "lock is for (__cuda, __glibc, __osx); `scaffold update` brings it."
        )
    text = path.read_text(encoding="utf-8")
    subdirs = _yaml_mapping(path, text, "`subdirs:`").get("subdirs") or {}
    found = {}
    for platform in platforms:
        if platform not in subdirs:  # the solver would fail as if the specs conflicted
            raise ScaffoldError(
                f"{path} has no entry for {platform}, a platform of environment.yml: add the "
                "virtual packages of its machines under `subdirs:` (as the other platforms "
                "have them), or change platforms with `scaffold update --data "
                "platforms=...`, which writes both files."
            )
        packages = (subdirs.get(platform) or {}).get("packages") or {}
        found[platform] = {str(name): str(version) for name, version in packages.items()}
    return found


DEFAULTS_URLS = ("https://repo.anaconda.com/pkgs/main", "https://repo.anaconda.com/pkgs/r")


def channel_url(channel: str) -> str:
    """A channel name (conda-forge) as its URL; a path (`/`, `.`, `..`, `~`) as a file://
    URL, relative to the current directory; URLs are kept as they are."""
    if "://" in channel:
        return channel.rstrip("/")
    if channel.startswith(("/", ".", "~")):
        return f"file://{Path(channel).expanduser().resolve()}"
    return f"{DEFAULT_CHANNEL_ALIAS}/{channel}"


def channel_urls(channels: list[str]) -> list[str]:
    """The URLs to solve against, as conda reads a `channels:` list: `nodefaults` only says
    "not Anaconda's defaults" (which scaffold never adds), so it names no channel."""
    if "defaults" in channels:
        raise ScaffoldError(
            "The channel `defaults` is Anaconda's repository, which scaffold does not map "
            f"for you (its terms of service apply): write {' and '.join(DEFAULTS_URLS)} "
            "in its place, or use conda-forge."
        )
    urls = [channel_url(c) for c in channels if c != "nodefaults"]
    if not urls:
        raise ScaffoldError(
            "`nodefaults` alone names no channel to solve against: add one (conda-forge) "
            "to environment.yml's channels, or pass --channel."
        )
    return urls


def unreachable_channel(urls: list[str], timeout: float = 3.0) -> str | None:
    """The first channel that does not answer within `timeout` seconds, with why; or None.

    A cheap probe before a solve, so that `scaffold new` offline finishes in seconds and
    says how to lock later, instead of failing deep inside the solver.
    """
    import urllib.error
    import urllib.request

    for url in urls:
        if url.startswith("file://"):
            if _missing_folder(url):
                return f"{url} (no such directory)"
            continue
        probe = urllib.request.Request(f"{url}/noarch/repodata.json", method="HEAD")
        try:
            urllib.request.urlopen(probe, timeout=timeout).close()
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            return f"{url} ({reason})"
    return None


def _missing_folder(url: str) -> bool:
    """A file:// channel whose folder is not there."""
    return url.startswith("file://") and not Path(url.removeprefix("file://")).is_dir()


def lock_new_project(project: Path, channels: list[str] | None = None) -> str:
    """Lock a freshly generated project if its channels answer; say what happened either way."""
    try:
        spec = read_spec(project)
        urls = channel_urls(channels or spec.channels)
    except ScaffoldError as error:  # e.g. an older template version without virtual packages
        return f"Not locked: {error}"
    if reason := unreachable_channel(urls):
        return (
            f"Not locked: the channel {reason} did not answer. Lock when it does: "
            "`scaffold lock` (or `scaffold lock --channel URL` for a mirror)."
        )
    try:
        result = lock(project, channels=channels)
    except ScaffoldError as error:
        return f"Not locked: {error}"
    counts = ", ".join(f"{name} {count}" for name, count in result.packages.items())
    note = result.local_note()
    return f"Locked the environment in {lockfile.LOCK_FILE} ({counts} packages)." + (
        f" {note}" if note else ""
    )


def lock(
    project: Path,
    *,
    platforms: list[str] | None = None,
    channels: list[str] | None = None,
    update: list[str] | None = None,
    timeout: float | None = None,
    conda: str | None = None,
) -> LockResult:
    """Solve `project`'s environment and write its conda-lock.yml; see the module docstring.

    `channels` replaces the channels of environment.yml for this solve (a mirror, a local
    channel). `platforms` re-locks only those, keeping the others as they were locked.
    `conda` solves with that conda/mamba/micromamba executable instead of py-rattler.
    SIGTERM and SIGHUP (`kill`, a cancelled CI job) stop it as Ctrl-C does: the solver and
    pip processes are killed, their temporary folders removed, the lock left as it was.
    """
    with termination_as_interrupt():
        return _lock(project, platforms, channels, update, timeout, conda)


def _lock(
    project: Path,
    platforms: list[str] | None,
    channels: list[str] | None,
    update: list[str] | None,
    timeout: float | None,
    conda: str | None,
) -> LockResult:
    spec = read_spec(project)
    chosen = platforms or spec.platforms
    unknown = [p for p in chosen if p not in spec.platforms]
    if unknown:
        raise ScaffoldError(
            f"{', '.join(unknown)} is not in environment.yml's platforms "
            f"({', '.join(spec.platforms)}): add it there (or `scaffold update --data "
            "platforms=...`) first."
        )
    lock_path = project / lockfile.LOCK_FILE
    previous = lockfile.read_lock(lock_path) if lock_path.is_file() else None
    if update and previous is None:
        raise ScaffoldError(
            f"--update needs an existing {lockfile.LOCK_FILE}: run `scaffold lock` first."
        )
    urls = channel_urls(channels or spec.channels)
    jobs = []
    pip_pins: dict[str, dict[str, str]] = {}
    for platform in chosen:
        specs = spec.main[platform] + spec.dev[platform]
        if update:
            kept, pip_pins[platform] = _pins_except(previous, platform, set(update))
            specs += kept
        jobs.append(
            {
                "platform": platform,
                "specs": specs,
                "virtual_packages": spec.virtual_packages[platform],
            }
        )
    request = {"channels": urls, "jobs": jobs}
    solutions = conda_exe.solve(conda, request) if conda else _solve(request, spec, timeout)
    packages: list[dict[str, Any]] = []
    if previous is not None:
        kept = set(spec.platforms) - set(chosen)  # a platform dropped from the list goes
        packages = [p for p in previous["package"] if p.get("platform") in kept]
    for platform, records in solutions.items():
        packages += _locked_packages(platform, records, spec.main[platform])
        for category, requirements in spec.pip.items():
            if requirements:
                pins = pip_pins.get(platform)
                for entry in pip_solve.resolve(requirements, platform, records, pins):
                    entry.update(category=category, optional=category != "main")
                    packages.append(entry)
    packages.sort(key=lambda p: (p["platform"], p["name"]))
    hashes = dict((previous or {}).get("metadata", {}).get("content_hash", {}))
    hashes.update({platform: lockfile.fingerprint(project, platform) for platform in chosen})
    metadata = {
        "content_hash": {p: hashes[p] for p in spec.platforms if p in hashes},
        "channels": [{"url": url, "used_env_vars": []} for url in urls],
        "platforms": [p for p in spec.platforms if p in hashes],
        "sources": spec.sources,
    }
    _write_lock(lock_path, metadata, packages)
    counts = {p: sum(1 for pkg in packages if pkg["platform"] == p) for p in chosen}
    changes = _changes(previous["package"] if previous else [], packages, chosen)
    # From the packages, not this run's channels: `--platform` keeps the others' packages.
    local = local_channels({"package": packages})
    return LockResult(lock_path, counts, changes, local)


def _solve(
    request: dict[str, Any], spec: EnvironmentSpec, timeout: float | None
) -> dict[str, list]:
    try:
        process = subprocess.run(
            [sys.executable, "-m", "scaffold.conda_solve"],
            input=json.dumps(request),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as error:
        raise ScaffoldError(
            f"Locking took longer than {timeout:.0f} s (are the channels reachable?): "
            "run `scaffold lock` later, or with --channel pointing at a reachable mirror."
        ) from error
    try:
        answer = json.loads(process.stdout)
    except json.JSONDecodeError as error:
        raise ScaffoldError(
            "The solver (py-rattler) stopped without an answer; is py-rattler installed? "
            f"`pip install py-rattler`.\n{process.stderr.strip()[-2000:]}"
        ) from error
    if "error" in answer:
        raise ScaffoldError(_explain(answer["error"], request, spec))
    return {solution["platform"]: solution["records"] for solution in answer["solutions"]}


def _explain(error: dict[str, str], request: dict[str, Any], spec: EnvironmentSpec) -> str:
    platform, kind, message = error["platform"], error["kind"], error["message"].strip()
    job = next(job for job in request["jobs"] if job["platform"] == platform)
    if kind == "unreachable":
        channels = request["channels"]
        folders = [url for url in channels if _missing_folder(url)]
        fix = (
            f"no such folder: {', '.join(folders)}; name a folder that holds a channel"
            if folders
            else "check the network, or pass --channel file:///path/to/a/local/channel (or a "
            "reachable mirror)"
        )
        return (
            f"Could not read the channel{'s' if len(channels) > 1 else ''} "
            f"{', '.join(channels)} for {platform} ({message.splitlines()[0]}): {fix}."
        )
    if kind == "invalid":
        return f"An environment file holds a spec that is not a conda match spec: {message}"
    virtual = ", ".join(f"{n} {v}" for n, v in job["virtual_packages"].items()) or "none"
    reason = " ".join(line.strip(" │├└─") for line in message.splitlines() if line.strip())
    if missing := re.findall(r"No candidates were found for (\S+)", message):
        fix = (
            f"the channels have no package {', '.join(dict.fromkeys(missing))} for {platform}: "
            "check its name (conda's may differ from PyPI's), put it under `- pip:` if it is "
            "on PyPI alone, or give it a selector for the platforms that have it"
        )
    else:
        fix = (
            "Relax the conflicting specs in the environment files (or raise the virtual "
            "package, e.g. __cuda, if the target machines have it)"
        )
    return (
        f"The environment cannot be solved for {platform}. Specs: {', '.join(job['specs'])}; "
        f"virtual packages ({lockfile.VIRTUAL_PACKAGES_FILE}): {virtual}. The solver says: "
        f"{reason} {fix[0].upper()}{fix[1:]}, then lock again."
    )


def _pins_except(
    previous: dict[str, Any] | None, platform: str, moving: set[str]
) -> tuple[list[str], dict[str, str]]:
    """What `--update` keeps where it was: exact specs of the locked conda packages of
    `platform` not in `moving`, and {name: version} of its pip packages not in it."""
    assert previous is not None
    locked = [p for p in previous["package"] if p["platform"] == platform]
    conda = [p for p in locked if p["manager"] == "conda"]
    pip = {pip_solve.normalise(p["name"]): p["version"] for p in locked if p["manager"] == "pip"}
    moving_pip = {pip_solve.normalise(name) for name in moving}
    unknown = (
        moving - {p["name"] for p in conda} - {n for n in moving if pip_solve.normalise(n) in pip}
    )
    if unknown:
        raise ScaffoldError(
            f"--update {', '.join(sorted(unknown))}: not in the lock for {platform}."
        )
    specs = [
        f"{p['name']} =={p['version']} {p['build']}" for p in conda if p["name"] not in moving
    ]
    return specs, {name: version for name, version in pip.items() if name not in moving_pip}


def _locked_packages(
    platform: str, records: list[dict[str, Any]], main_specs: list[str]
) -> list[dict[str, Any]]:
    """conda-lock v1 entries; packages the main specs pull in are `main`, the rest `dev`."""
    by_name = {record["name"]: record for record in records}
    main: set[str] = set()
    pending = [_spec_name(spec) for spec in main_specs]
    while pending:
        name = pending.pop()
        if name in main or name not in by_name:
            continue
        main.add(name)
        pending += [_spec_name(dep) for dep in by_name[name]["depends"]]
    entries = []
    for record in records:
        category = "main" if record["name"] in main else "dev"
        entries.append(
            {
                "name": record["name"],
                "version": record["version"],
                "manager": "conda",
                "platform": platform,
                "dependencies": dict(_dependency(dep) for dep in record["depends"]),
                "url": record["url"],
                "hash": {"md5": record["md5"], "sha256": record["sha256"]},
                "category": category,
                "optional": category != "main",
                "build": record["build"],
            }
        )
    return entries


def _spec_name(spec: str) -> str:
    return re.split(r"[\s=<>!~\[]", spec.strip(), maxsplit=1)[0]


def _dependency(depend: str) -> tuple[str, str]:
    name, _, constraint = depend.strip().partition(" ")
    return name, constraint.strip() or "*"


def _write_lock(path: Path, metadata: dict[str, Any], packages: list[dict[str, Any]]) -> None:
    """Write atomically: a lock is either the old one or the whole new one."""
    import yaml

    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    header = (
        "# Written by `scaffold lock` from environment.yml, environment-dev.yml and\n"
        "# virtual-packages.yml; do not edit by hand. conda-lock's v1 format: install with\n"
        "# `conda-lock install -n NAME conda-lock.yml` or `micromamba create -n NAME -f "
        "conda-lock.yml`.\n"
    )
    body = yaml.dump(
        {"version": 1, "metadata": metadata, "package": packages},
        Dumper=dumper,
        sort_keys=False,
        default_flow_style=False,
        width=1000,
    )
    staged = path.with_name(f".{path.name}.tmp")
    staged.write_text(header + body, encoding="utf-8")
    staged.replace(path)


def _changes(
    old: list[dict[str, Any]], new: list[dict[str, Any]], platforms: list[str]
) -> list[str]:
    """Human-readable moves: 'linux-64: numpy 1.26.4 -> 2.1.0', added and removed packages.

    A build counts as a move ('pytorch 2.5.1 cuda126_0 -> 2.5.1 cpu_0': CUDA to CPU), and
    packages that stayed but come from another channel or index (a mirror) are counted,
    one line a platform."""

    def index(packages: list[dict[str, Any]]) -> dict[tuple[str, str], tuple[str, str]]:
        return {
            (p["platform"], p["name"]): (f"{p['version']} {p.get('build', '')}".strip(), p["url"])
            for p in packages
            if p["platform"] in platforms
        }

    before, after = index(old), index(new)
    changes = []
    moved: dict[str, set[str]] = {}  # platform -> names now from elsewhere
    for key in sorted(before.keys() | after.keys()):
        platform, name = key
        if key not in before:
            changes.append(f"{platform}: + {name} {after[key][0]}")
        elif key not in after:
            changes.append(f"{platform}: - {name} {before[key][0]}")
        elif before[key][0] != after[key][0]:
            changes.append(f"{platform}: {name} {before[key][0]} -> {after[key][0]}")
        elif _source(before[key][1]) != _source(after[key][1]):
            moved.setdefault(platform, set()).add(name)
    for platform, names in sorted(moved.items()):
        sources = sorted({_source(after[(platform, name)][1]) for name in names})
        changes.append(f"{platform}: {len(names)} package(s) now from {', '.join(sources)}")
    return changes


def _source(url: str) -> str:
    """The channel (or index folder) a package's URL is in: its URL less subdir and file."""
    return url.rsplit("/", 2)[0]
