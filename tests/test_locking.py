"""`scaffold lock`, lock freshness and the doctor's environment checks, fully offline.

Every test locks a generated project against a real conda channel written to disk by
tests/conda_channel.py (fake packages named like conda-forge's), solved by py-rattler.
The lock is then read back by conda-lock itself (`conda-lock render`) and by py-rattler,
which installs it into a prefix.
"""

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conda_channel import Package, realistic_packages, write_channel
from fake_conda import write_wrapper
from pypi_index import serve, write_index, write_wheel
from typer.testing import CliRunner

from scaffold import environments, lockfile
from scaffold.cli import app
from scaffold.doctor import CHECKS, diagnose
from scaffold.errors import ScaffoldError
from scaffold.generation import new_project
from scaffold.git import dirty_paths, git
from scaffold.locking import lock

runner = CliRunner()


@pytest.fixture
def project(tmp_path: Path, channel: str) -> Path:
    made = new_project(
        tmp_path / "proj", defaults=True, data={"package_name": "proj"}, channels=[channel]
    )
    assert made.lock_note and made.lock_note.startswith("Locked"), made.lock_note
    return made.path


def locked(project: Path) -> list[dict]:
    return yaml.safe_load((project / "conda-lock.yml").read_text())["package"]


def find(project: Path, name: str, platform: str) -> dict:
    return next(p for p in locked(project) if p["name"] == name and p["platform"] == platform)


def test_new_locks_every_platform_and_commits_the_lock(project: Path) -> None:
    assert "conda-lock.yml" in git("ls-files", cwd=project).splitlines()
    assert dirty_paths(project) == []
    assert "cuda" in find(project, "pytorch", "linux-64")["build"]
    assert "cpu" in find(project, "pytorch", "osx-arm64")["build"]
    assert find(project, "cuda-version", "linux-64")["version"].startswith("12.9")
    assert not any(
        p["name"] == "cuda-version" for p in locked(project) if p["platform"] == "osx-arm64"
    )
    assert find(project, "python", "linux-64")["category"] == "main"
    assert find(project, "pytest", "linux-64")["category"] == "dev"
    assert lockfile.check_freshness(project).fresh


def test_a_lock_from_a_folder_says_who_cannot_install_it(project: Path, channel: str) -> None:
    result = runner.invoke(app, ["lock", str(project), "--channel", channel])
    assert result.exit_code == 0, result.output
    assert f"note: Its packages come from {channel}: only machines with that folder" in (
        result.stderr
    )


def test_packages_left_in_a_folder_are_named_until_locked_from_a_server(
    project: Path, channel: str
) -> None:
    """`--platform` relocks one platform: the others' packages still come from the folder,
    which `lock` and doctor say until every platform is locked from elsewhere. (The server
    here is on the loopback interface, so it is named too: no other machine reaches it.)"""

    def lock_finding():
        return next(f for f in diagnose(project) if f.check == "lock")

    with serve(Path(channel.removeprefix("file://"))) as index:
        served = index.removesuffix("simple/")
        one = runner.invoke(
            app, ["lock", str(project), "--platform", "linux-64", "--channel", served]
        )
        assert one.exit_code == 0, one.output
        note = one.stderr[one.stderr.index("note: Its packages come from") :]
        assert channel in note.split(": only machines")[0]
        assert find(project, "numpy", "linux-64")["url"].startswith(served)
        assert not lock_finding().ok and channel in lock_finding().message

        every = runner.invoke(app, ["lock", str(project), "--channel", served])
    assert every.exit_code == 0, every.output
    assert f"note: Its packages come from {served.rstrip('/')}: only machines" in every.stderr
    assert channel not in every.stderr and channel not in lock_finding().message


def test_the_local_channels_of_conda_and_pip_packages_are_named_once() -> None:
    from scaffold.locking import local_channels

    lock = {
        "package": [
            {"manager": "conda", "url": "file:///srv/chan/linux-64/numpy-2.0-0.conda"},
            {"manager": "conda", "url": "https://conda.anaconda.org/conda-forge/noarch/a.conda"},
            {"manager": "pip", "url": "file:///opt/pypi/files/tomli_w-1.2.0-py3-none-any.whl"},
            {"manager": "conda", "url": "file:///srv/chan/noarch/b-1.0-0.conda"},
            {"manager": "conda", "url": "http://127.0.0.1:8768/linux-64/c-1.0-0.conda"},
            {"manager": "pip", "url": "http://localhost:8765/files/d-1.0-py3-none-any.whl"},
            {"manager": "pip", "url": "https://files.example.org/e-1.0-py3-none-any.whl"},
        ]
    }
    assert local_channels(lock) == [
        "file:///srv/chan",
        "file:///opt/pypi/files",
        "http://127.0.0.1:8768",
        "http://localhost:8765/files",
    ]


def test_conda_lock_renders_our_lock(project: Path) -> None:
    render = ["render", "--kind", "explicit", "-p", "linux-64", "conda-lock.yml"]
    result = subprocess.run(
        [sys.executable, "-m", "conda_lock", *render],
        cwd=project,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    explicit = (project / "conda-linux-64.lock").read_text()
    pytorch = find(project, "pytorch", "linux-64")
    assert pytorch["url"] in explicit


INSTALL = """
import json, os, sys
import rattler
from rattler import LockFile
environment = LockFile.from_path(sys.argv[1]).default_environment()
platform = next(p for p in environment.platforms() if str(p.name) == "linux-64")
records = environment.conda_repodata_records_for_platform(platform)
import asyncio
asyncio.run(rattler.install(records, target_prefix=sys.argv[2], show_progress=False))
sys.stdout.write(json.dumps(sorted(r.name.normalized for r in records)))
sys.stdout.flush()
os._exit(0)
"""


def install_lock(project: Path, prefix: Path) -> list[str]:
    """Install the linux-64 part of the lock into `prefix` with py-rattler (a subprocess)."""
    result = subprocess.run(
        [sys.executable, "-c", INSTALL, str(project / "conda-lock.yml"), str(prefix)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_lock_installs_into_a_prefix_holding_what_it_says(
    project: Path, tmp_path: Path
) -> None:
    prefix = tmp_path / "env"
    names = install_lock(project, prefix)
    expected = sorted(p["name"] for p in locked(project) if p["platform"] == "linux-64")
    assert names == expected
    installed = {
        json.loads(path.read_text())["name"]: json.loads(path.read_text())["version"]
        for path in (prefix / "conda-meta").glob("*.json")
    }
    assert installed["pytorch"] == find(project, "pytorch", "linux-64")["version"]
    assert set(installed) == set(expected)


def test_a_cuda_version_the_machines_lack_fails_clearly(project: Path) -> None:
    virtual = project / "virtual-packages.yml"
    virtual.write_text(virtual.read_text().replace('__cuda: "12.9"', '__cuda: "11.8"'))
    channel = yaml.safe_load((project / "conda-lock.yml").read_text())["metadata"]["channels"]
    with pytest.raises(ScaffoldError) as raised:
        lock(project, channels=[channel[0]["url"]])
    message = str(raised.value)
    assert message.startswith("The environment cannot be solved for linux-64.")
    assert "__cuda 11.8" in message and "pytorch 2.* cuda*" in message
    assert "\n" not in message


def test_a_package_no_channel_has_and_a_missing_folder_say_so(
    project: Path, tmp_path: Path
) -> None:
    environment = project / "environment.yml"
    environment.write_text(environment.read_text() + "  - nosuchpkg-xyz\n")
    channel = yaml.safe_load((project / "conda-lock.yml").read_text())["metadata"]["channels"]
    with pytest.raises(ScaffoldError) as raised:
        lock(project, channels=[channel[0]["url"]])
    message = str(raised.value)
    assert "The channels have no package nosuchpkg-xyz for linux-64: check its name" in message
    assert "Relax the conflicting specs" not in message
    with pytest.raises(ScaffoldError) as raised:
        lock(project, channels=[f"file://{tmp_path}/nochan"])
    message = str(raised.value)
    assert message.startswith(f"Could not read the channel file://{tmp_path}/nochan for ")
    assert f"no such folder: file://{tmp_path}/nochan" in message
    assert "check the network" not in message


def test_freshness_follows_every_input(project: Path) -> None:
    for name in lockfile.INPUT_FILES:
        original = (project / name).read_text()
        (project / name).write_text(original + "# an edit\n")
        freshness = lockfile.check_freshness(project)
        assert freshness.stale_platforms == ["linux-64", "osx-arm64"], name
        assert (
            "run `scaffold lock` (offline: `scaffold lock --channel file:///"
            in freshness.describe()
        )
        (project / name).write_text(original)
    assert lockfile.check_freshness(project).fresh
    check = runner.invoke(app, ["lock", str(project / "src"), "--check"])
    assert check.exit_code == 0 and "matches" in check.output


def test_a_folder_without_an_environment_is_named_by_the_check_as_by_lock(tmp_path: Path) -> None:
    for command in (["lock", str(tmp_path), "--check"], ["lock", str(tmp_path)]):
        result = runner.invoke(app, command)
        assert result.exit_code == 1
        assert f"error: {tmp_path} has no environment.yml: run `scaffold lock` in a" in (
            result.stderr
        )


def test_update_moves_only_the_named_packages(project: Path, tmp_path: Path) -> None:
    newer = [
        *realistic_packages(),
        Package("numpy", "2.4.0", "py_0", depends=("python >=3.11",)),
        Package("tqdm", "9.9.0", "py_0", depends=("python >=3.11",)),
    ]
    newer_channel = write_channel(tmp_path / "newer", newer)
    tqdm_before = find(project, "tqdm", "linux-64")["version"]

    result = lock(project, channels=[newer_channel], update=["numpy"])

    assert find(project, "numpy", "linux-64")["version"] == "2.4.0"
    assert find(project, "numpy", "osx-arm64")["version"] == "2.4.0"
    assert find(project, "tqdm", "linux-64")["version"] == tqdm_before
    assert any(change.startswith("linux-64: numpy ") for change in result.changes)
    assert not any("tqdm" in change for change in result.changes)
    # The packages that stayed come from the newer channel now: counted, not listed.
    stayed = sum(p["platform"] == "linux-64" for p in locked(project)) - 1
    assert f"linux-64: {stayed} package(s) now from {newer_channel}" in result.changes


def test_changing_the_cuda_answer_changes_every_place_and_marks_the_lock_stale(
    project: Path,
) -> None:
    result = runner.invoke(
        app, ["update", str(project), "--defaults", "--data", "cuda_version=12.6"]
    )
    assert result.exit_code == 0, result.output
    assert "Regenerated with the new answers, at template v" in result.output  # same version
    # Said before the commit, which the lock-fresh hook would refuse without a new lock.
    relock = result.output.index("re-pin the lock, then commit it with the rest")
    assert result.output.index("scaffold lock && git add conda-lock.yml") < result.output.index(
        "git commit -m"
    )
    assert relock < result.output.index("git commit -m")
    assert "cuda-version 12.6.*" in (project / "environment.yml").read_text()
    assert '__cuda: "12.6"' in (project / "virtual-packages.yml").read_text()
    assert "CUDA 12.6" in (project / "README.md").read_text()
    assert "12.9" not in (project / "environment.yml").read_text()
    assert not lockfile.check_freshness(project).fresh


def test_offline_new_finishes_fast_and_says_how_to_lock(tmp_path: Path) -> None:
    start = time.monotonic()
    made = new_project(tmp_path / "offline", defaults=True, channels=["file:///nonexistent"])
    assert time.monotonic() - start < 20
    assert made.lock_note.startswith("Not locked: the channel file:///nonexistent")
    assert "scaffold lock" in made.lock_note
    assert not (made.path / "conda-lock.yml").exists()
    skipped = new_project(tmp_path / "skipped", defaults=True, lock=False)
    assert skipped.lock_note is None


def test_doctor_checks_the_lock_the_environment_and_the_driver(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def finding(name: str):
        return next(f for f in diagnose(project) if f.check == name)

    monkeypatch.delenv("VIRTUAL_ENV", raising=False)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    lock = finding("lock")  # fresh, but its packages lie in a folder of this machine
    assert not lock.ok and "only machines with that folder (or server) can install" in lock.message
    gpu = finding("gpu")
    assert gpu.ok and gpu.message.startswith("no GPU found")

    nvidia_smi = bin_dir / "nvidia-smi"
    nvidia_smi.write_text(
        "#!/bin/sh\necho '| NVIDIA-SMI 550.54  Driver Version: 550.54  CUDA Version: 12.4 |'\n"
    )
    nvidia_smi.chmod(0o755)
    gpu = finding("gpu")
    assert not gpu.ok and "supports CUDA up to 12.4, the lock needs 12.9" in gpu.message
    nvidia_smi.write_text(nvidia_smi.read_text().replace("12.4", "13.0"))
    assert finding("gpu").ok

    prefix = tmp_path / "env"
    install_lock(project, prefix)
    monkeypatch.setenv("CONDA_PREFIX", str(prefix))
    environment = finding("environment")
    assert environment.ok, environment.message
    next((prefix / "conda-meta").glob("numpy-*.json")).unlink()
    environment = finding("environment")
    assert not environment.ok and "numpy: locked" in environment.message

    (project / "environment.yml").write_text((project / "environment.yml").read_text() + "#\n")
    assert "conda-lock.yml is stale" in finding("lock").message
    os.remove(project / "conda-lock.yml")
    assert "no conda-lock.yml" in finding("lock").message


def test_a_lock_left_in_conflict_is_stale_and_the_doctor_names_each_check(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A merge's conflict markers deep in the lock (past the fingerprints that freshness
    reads) make it stale for `lock --check`, the lock-fresh hook and CI, not "matches"."""
    lock_file = project / "conda-lock.yml"
    lines = lock_file.read_text().splitlines(keepends=True)
    conflict = ["<<<<<<< HEAD\n", "  version: 1.0\n", "=======\n", ">>>>>>> other\n"]
    lock_file.write_text("".join(lines[:200] + conflict + lines[200:]))
    monkeypatch.chdir(project)
    result = runner.invoke(app, ["lock", "--check"])
    assert result.exit_code == 1 and "conflict markers" in result.output, result.output
    assert "git checkout --theirs -- conda-lock.yml" in result.output
    findings = diagnose(project)
    assert [finding.check for finding in findings] == list(CHECKS)  # a failed check's too
    gpu = next(finding for finding in findings if finding.check == "gpu")
    assert not gpu.ok and "is not valid YAML" in gpu.message


def test_the_environment_holds_what_the_set_up_installs(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`micromamba create --file conda-lock.yml` (the README's set-up) installs the main
    packages: all of them, and the lock's pip ones, must be there; dev ones are compared
    where installed. A virtualenv holds the lock's Python packages, or is told which not."""
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)
    lock_file = project / "conda-lock.yml"
    entries = [p for p in locked(project) if p["platform"] == "linux-64"]
    dev = {p["name"] for p in entries if p["category"] == "dev"}
    assert "pytest" in dev
    prefix = tmp_path / "env"
    install_lock(project, prefix)
    for record in (prefix / "conda-meta").glob("*.json"):
        if json.loads(record.read_text())["name"] in dev:
            record.unlink()  # as micromamba create leaves it: main alone
    conda = environments.ActiveEnvironment("conda", prefix)
    assert environments.differences(conda, lock_file) == []

    document = yaml.safe_load(lock_file.read_text())
    document["package"].append(
        {
            "name": "tinypkg",
            "version": "1.0.0",
            "manager": "pip",
            "platform": "linux-64",
            "dependencies": {},
            "url": "https://example.org/tinypkg-1.0.0-py3-none-any.whl",
            "hash": {"sha256": "0" * 64},
            "category": "main",
            "optional": False,
        }
    )
    lock_file.write_text(yaml.safe_dump(document, sort_keys=False))
    assert environments.differences(conda, lock_file) == [
        "tinypkg: locked 1.0.0, installed nothing"
    ]

    venv = tmp_path / "venv"  # an empty one: it matched the lock
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    monkeypatch.setenv("VIRTUAL_ENV", str(venv))
    monkeypatch.setenv("PATH", f"{venv / 'bin'}:{os.environ['PATH']}")
    monkeypatch.delenv("CONDA_PREFIX", raising=False)
    finding = next(f for f in diagnose(project) if f.check == "environment")
    assert not finding.ok and "installed nothing; " in finding.message, finding.message
    assert " more. Use a conda environment from the lock" in finding.message
    numpy = next(p for p in entries if p["name"] == "numpy")
    site = Path(
        subprocess.run(
            [
                venv / "bin" / "python",
                "-c",
                "import sysconfig; print(sysconfig.get_path('purelib'))",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    metadata = site / f"numpy-{numpy['version']}.dist-info" / "METADATA"
    metadata.parent.mkdir(parents=True)
    metadata.write_text(f"Metadata-Version: 2.1\nName: numpy\nVersion: {numpy['version']}\n")
    listed = environments.differences(environments.active(), lock_file)
    python = {p["name"] for p in entries if "python" in p["dependencies"]} - dev - {"numpy"}
    assert "pytorch" in python and "python" not in python and "pytest" not in python
    assert {line.split(":")[0] for line in listed} == {
        environments.pypi_name(name) for name in python
    } | {"tinypkg"}


def test_pypi_only_packages_are_locked_with_hashes(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pip: section resolves against a (loopback) package index, per platform."""
    files = tmp_path / "index" / "files"
    files.mkdir(parents=True)
    wheels = [
        write_wheel(files, "tinypkg", "1.0.0", requires=("tinydep>=0.1", "numpy>=1.20")),
        write_wheel(files, "tinydep", "0.2.0"),
        write_wheel(files, "numpy", "2.3.2"),  # the conda solution provides numpy already
    ]
    write_index(tmp_path / "index", wheels)
    environment = project / "environment.yml"
    environment.write_text(environment.read_text() + "  - pip:\n      - tinypkg==1.0.0\n")
    channel = yaml.safe_load((project / "conda-lock.yml").read_text())["metadata"]["channels"]

    with serve(tmp_path / "index") as index_url:
        monkeypatch.setenv("PIP_INDEX_URL", index_url)
        lock(project, channels=[channel[0]["url"]])

    pip_entries = [p for p in locked(project) if p["manager"] == "pip"]
    assert sorted((p["platform"], p["name"]) for p in pip_entries) == [
        ("linux-64", "tinydep"),
        ("linux-64", "tinypkg"),
        ("osx-arm64", "tinydep"),
        ("osx-arm64", "tinypkg"),
    ]
    tinypkg = next(p for p in pip_entries if p["name"] == "tinypkg")
    wheel = files / "tinypkg-1.0.0-py3-none-any.whl"
    assert tinypkg["hash"]["sha256"] == hashlib.sha256(wheel.read_bytes()).hexdigest()
    assert tinypkg["url"].endswith("/files/tinypkg-1.0.0-py3-none-any.whl")
    assert tinypkg["dependencies"] == {"tinydep": ">=0.1", "numpy": ">=1.20"}
    assert lockfile.check_freshness(project).fresh
    read_back = subprocess.run(
        [sys.executable, "-c", READ_PYPI, str(project / "conda-lock.yml")],
        capture_output=True,
        text=True,
    )
    assert read_back.returncode == 0, read_back.stderr
    assert json.loads(read_back.stdout) == ["tinydep", "tinypkg"]


def test_a_pip_package_is_bound_to_the_conda_versions_and_kept_by_update(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pip resolves under conda's versions: a package needing numpy<2 beside conda's numpy
    2.3.2 is refused, not locked beside it. `--update PKG` moves PKG alone, pip's too."""
    files = tmp_path / "index" / "files"
    files.mkdir(parents=True)
    wheels = [
        write_wheel(files, "tinypkg", "1.0.0", requires=("tinydep>=0.1",)),
        write_wheel(files, "tinydep", "0.2.0"),
        write_wheel(files, "oldnumpy", "1.0.0", requires=("numpy<2",)),
        write_wheel(files, "numpy", "1.26.4"),
        write_wheel(files, "numpy", "2.3.2"),
    ]
    write_index(tmp_path / "index", wheels)
    channel = yaml.safe_load((project / "conda-lock.yml").read_text())["metadata"]["channels"]
    channels = [channel[0]["url"]]
    environment = project / "environment.yml"
    text = environment.read_text()

    def pip_versions() -> dict[str, str]:
        return {p["name"]: p["version"] for p in locked(project) if p["manager"] == "pip"}

    with serve(tmp_path / "index") as index_url:
        monkeypatch.setenv("PIP_INDEX_URL", index_url)
        environment.write_text(text + "  - pip:\n      - oldnumpy\n")
        with pytest.raises(ScaffoldError, match=r"numpy.*A constraint \(`name==version`\)"):
            lock(project, channels=channels)
        assert "oldnumpy" not in (project / "conda-lock.yml").read_text()

        environment.write_text(text + "  - pip:\n      - tinypkg\n")
        lock(project, channels=channels)
        assert pip_versions() == {"tinypkg": "1.0.0", "tinydep": "0.2.0"}
        wheels += [
            write_wheel(files, "tinypkg", "1.1.0", requires=("tinydep>=0.1",)),
            write_wheel(files, "tinydep", "0.3.0"),
        ]
        write_index(tmp_path / "index", wheels)
        lock(project, channels=channels, update=["tinydep"])
        assert pip_versions() == {"tinypkg": "1.0.0", "tinydep": "0.3.0"}
        lock(project, channels=channels, update=["numpy"])  # a conda package: pip stays
        assert pip_versions() == {"tinypkg": "1.0.0", "tinydep": "0.3.0"}
        lock(project, channels=channels, update=["TinyPkg"])
        assert pip_versions() == {"tinypkg": "1.1.0", "tinydep": "0.3.0"}


READ_PYPI = """
import json, os, sys
from rattler import LockFile
environment = LockFile.from_path(sys.argv[1]).default_environment()
platform = next(p for p in environment.platforms() if str(p.name) == "linux-64")
names = sorted(p.name for p in environment.pypi_packages_for_platform(platform))
sys.stdout.write(json.dumps(names))
sys.stdout.flush()
os._exit(0)
"""


def test_a_conda_executable_can_do_the_solving(project: Path, tmp_path: Path) -> None:
    """`--conda EXE` asks a conda-compatible executable (here micromamba's stand-in)."""
    rattler_lock = {(p["platform"], p["name"], p["url"]) for p in locked(project)}
    channel = yaml.safe_load((project / "conda-lock.yml").read_text())["metadata"]["channels"]
    executable = write_wrapper(tmp_path)
    (project / "conda-lock.yml").unlink()

    result = runner.invoke(
        app, ["lock", str(project), "--conda", str(executable), "--channel", channel[0]["url"]]
    )

    assert result.exit_code == 0, result.output
    assert {(p["platform"], p["name"], p["url"]) for p in locked(project)} == rattler_lock
    assert lockfile.check_freshness(project).fresh
    missing = runner.invoke(app, ["lock", str(project), "--conda", str(tmp_path / "nope")])
    assert missing.exit_code == 1 and "no such executable" in missing.output


def test_a_platform_dropped_from_the_list_leaves_the_lock(project: Path) -> None:
    environment = project / "environment.yml"
    environment.write_text(environment.read_text().replace("  - osx-arm64\n", ""))
    channel = yaml.safe_load((project / "conda-lock.yml").read_text())["metadata"]["channels"]
    lock(project, channels=[channel[0]["url"]])
    assert {package["platform"] for package in locked(project)} == {"linux-64"}
    assert lockfile.check_freshness(project).fresh


@pytest.mark.parametrize(
    ("platforms", "message"),
    [
        ("  - osx-arm46\n", "'osx-arm46' is not a conda platform (did you mean osx-arm64?)"),
        ("  - &mac osx-arm64\n", "write `platforms:` as a plain list, one platform per line"),
        (
            "  - osx-arm64\n  - win-64\n",
            "virtual-packages.yml has no entry for win-64, a platform of environment.yml",
        ),
    ],
    ids=["typo", "unreadable-to-the-hooks", "no-virtual-packages"],
)
def test_a_platform_list_that_cannot_be_locked_is_named(
    project: Path, platforms: str, message: str
) -> None:
    environment = project / "environment.yml"
    environment.write_text(environment.read_text().replace("  - osx-arm64\n", platforms))
    with pytest.raises(ScaffoldError) as raised:
        lock(project)
    assert message in str(raised.value)


def test_a_conflicted_update_of_the_environment_says_to_lock_before_committing(
    project: Path,
) -> None:
    environment = project / "environment.yml"
    environment.write_text(
        environment.read_text().replace("cuda-version 12.9.*", "cuda-version 12.9.1")
    )
    git("commit", "-qam", "build: pin cuda 12.9.1", cwd=project)
    result = runner.invoke(
        app, ["update", str(project), "--defaults", "--data", "cuda_version=12.6"]
    )
    assert result.exit_code == 2, result.output  # conflicts
    assert "conflict: environment.yml" in result.output
    assert "then `scaffold lock` (the update changed the environment files" in result.output


def test_the_active_environment_is_the_one_first_on_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A virtualenv activated over conda's auto-activated base: doctor checks the first."""
    conda, venv = tmp_path / "conda-base", tmp_path / "venv"
    (conda / "conda-meta").mkdir(parents=True)
    monkeypatch.setenv("CONDA_PREFIX", str(conda))
    monkeypatch.setenv("VIRTUAL_ENV", str(venv))
    monkeypatch.setenv("PATH", os.pathsep.join([str(venv / "bin"), str(conda / "bin"), "/bin"]))
    assert environments.active() == environments.ActiveEnvironment("pip", venv)
    monkeypatch.setenv("PATH", os.pathsep.join([str(conda / "bin"), str(venv / "bin"), "/bin"]))
    assert environments.active() == environments.ActiveEnvironment("conda", conda)
    conda_first = [conda / "condabin", venv / "bin", conda / "bin"]  # as `conda init` sets it
    monkeypatch.setenv("PATH", os.pathsep.join(map(str, conda_first)))
    assert environments.active() == environments.ActiveEnvironment("pip", venv)


VIRTUAL = (
    "subdirs:\n"
    "  linux-64:\n    packages:\n      __glibc: '2.28'\n"
    "  osx-arm64:\n    packages:\n      __osx: '11.0'\n"
)


def small_project(path: Path, dependencies: str, channels: str = "  - conda-forge\n") -> Path:
    """Environment files alone, enough for read_spec (no solve)."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "environment.yml").write_text(
        f"channels:\n{channels}platforms:\n  - linux-64\n  - osx-arm64\n"
        f"dependencies:\n  - python 3.11.*\n{dependencies}"
    )
    (path / "virtual-packages.yml").write_text(VIRTUAL)
    return path


@pytest.mark.parametrize("selector", ["not osx", "linux-64", "linux and x86_64", "LINUX", ""])
def test_a_selector_that_is_not_one_known_word_is_refused(tmp_path: Path, selector: str) -> None:
    from scaffold.locking import read_spec

    project = small_project(tmp_path, f"  - wandb >=0.18  # [{selector}]\n")
    with pytest.raises(ScaffoldError) as raised:
        read_spec(project)
    assert f"Unknown selector '# [{selector}]'" in str(raised.value)
    assert "use one of linux, osx, win, unix, linux64, aarch64, arm64, x86_64" in str(raised.value)


def test_known_selectors_pick_their_platforms(tmp_path: Path) -> None:
    from scaffold.locking import read_spec

    project = small_project(tmp_path, "  - wandb  # [linux]\n  - appnope  # [ osx ]  why\n")
    spec = read_spec(project)
    assert spec.main == {
        "linux-64": ["python 3.11.*", "wandb"],
        "osx-arm64": ["python 3.11.*", "appnope"],
    }


def test_relative_and_home_channel_paths_are_folders_not_channel_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_home: Path
) -> None:
    from scaffold.locking import channel_urls

    monkeypatch.chdir(tmp_path / "..")
    here = Path.cwd().resolve()
    assert channel_urls([f"./{tmp_path.name}/chan", f"../{here.name}/x/"]) == [
        f"file://{tmp_path.resolve()}/chan",
        f"file://{here}/x",
    ]
    assert channel_urls(["~/chan", "/srv/c", "file:///srv/d", "conda-forge"]) == [
        f"file://{isolated_home}/chan",
        "file:///srv/c",
        "file:///srv/d",
        "https://conda.anaconda.org/conda-forge",
    ]


def test_a_relative_channel_path_locks(
    project: Path, channel: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = Path(channel.removeprefix("file://"))
    monkeypatch.chdir(folder.parent)
    result = runner.invoke(app, ["lock", str(project), "--channel", f"./{folder.name}"])
    assert result.exit_code == 0, result.output
    assert find(project, "numpy", "linux-64")["url"].startswith(channel)


def test_the_dev_file_s_channels_join_the_main_file_s(project: Path) -> None:
    from scaffold.locking import read_spec

    dev = project / "environment-dev.yml"
    text = dev.read_text()
    assert "channels:\n  - conda-forge\n" in text
    dev.write_text(text.replace("  - conda-forge\n", "  - conda-forge\n  - pytorch\n", 1))
    assert read_spec(project).channels == ["conda-forge", "pytorch"]


def test_nodefaults_is_skipped_and_defaults_is_refused_with_its_urls() -> None:
    from scaffold.locking import channel_urls

    assert channel_urls(["conda-forge", "nodefaults"]) == [
        "https://conda.anaconda.org/conda-forge"
    ]
    with pytest.raises(ScaffoldError) as raised:
        channel_urls(["defaults"])
    assert "https://repo.anaconda.com/pkgs/main" in str(raised.value)
    assert "\n" not in str(raised.value)
    with pytest.raises(ScaffoldError, match="names no channel"):
        channel_urls(["nodefaults"])


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("environment.yml", "channels: [conda-forge\n", "environment.yml, line 2"),
        ("environment-dev.yml", "dependencies:\n  - pytest\n bad: [\n", "environment-dev.yml"),
        ("virtual-packages.yml", "subdirs:\n  linux-64: {\n", "virtual-packages.yml, line 3"),
        ("environment.yml", "- python\n- numpy\n", "environment.yml holds a YAML list"),
        ("environment-dev.yml", "- pytest\n", "environment-dev.yml holds a YAML list"),
        ("virtual-packages.yml", "- linux-64\n", "virtual-packages.yml holds a YAML list"),
    ],
)
def test_a_malformed_environment_file_is_one_line_naming_it(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    from scaffold.locking import read_spec

    project = small_project(tmp_path, "")
    (project / name).write_text(text)
    with pytest.raises(ScaffoldError) as raised:
        read_spec(project)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def _children(pid: int) -> dict[int, str]:
    """The live child processes of `pid`, with their command lines."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found[int(stat.parent.name)] = cmdline
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_sigterm_stops_lock_as_ctrl_c_does(project: Path, channel: str, tmp_path: Path) -> None:
    """`kill` or a cancelled CI job: its pip child is stopped, its folders removed, exit 143."""
    import http.server
    import signal
    import threading

    class Slow(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # a package index that never answers in time
            time.sleep(60)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    environment = project / "environment.yml"
    environment.write_text(environment.read_text() + "  - pip:\n      - tinypkg==1.0.0\n")
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    env = {
        **os.environ,
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
        "PIP_INDEX_URL": f"http://127.0.0.1:{server.server_address[1]}/simple/",
        "TMPDIR": str(temporary),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "scaffold", "lock", str(project), "--channel", channel],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not (pip := [p for p, c in _children(process.pid).items() if "--dry-run" in c]):
            assert time.monotonic() < deadline and process.poll() is None, "pip never started"
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=20)
    finally:
        process.kill()
        server.shutdown()
    assert process.returncode == 143, stderr
    assert stderr.strip().splitlines()[-1] == "interrupted.", stderr
    assert not _alive(pip[0])
    assert list(temporary.iterdir()) == []
