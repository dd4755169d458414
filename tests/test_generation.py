"""`scaffold new`: a complete committed project, or nothing at all.

The interactive tests drive the real prompts through a pseudo-terminal, as a user would.
"""

import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
import yaml

from scaffold import template_history
from scaffold.doctor import diagnose
from scaffold.errors import ScaffoldError
from scaffold.generation import new_project
from scaffold.git import dirty_paths, git
from scaffold.template_history import PUBLIC_URL

TEMPLATE_VERSION = template_history.latest_version()


def leftovers(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


def test_defaults_give_a_clean_committed_repo(tmp_path: Path) -> None:
    project = new_project(tmp_path / "demo", defaults=True)

    assert project.path == tmp_path / "demo"
    assert dirty_paths(project.path) == []
    message = git("log", "--format=%s", cwd=project.path)
    assert message == f"chore: generate project from scaffold template v{TEMPLATE_VERSION}"
    assert git("branch", "--show-current", cwd=project.path) == "main"
    answers = yaml.safe_load((project.path / ".copier-answers.yml").read_text())
    assert answers["_src_path"] == PUBLIC_URL
    assert answers["_commit"] == f"v{TEMPLATE_VERSION}"
    assert answers["project_name"] == "demo"
    assert leftovers(tmp_path) == ["demo"]


def test_committed_files_name_no_path_of_this_machine(tmp_path: Path) -> None:
    project = new_project(tmp_path / "demo", defaults=True)
    for relative in git("ls-files", cwd=project.path).splitlines():
        content = (project.path / relative).read_bytes()
        for local in (str(tmp_path), os.environ["HOME"], sys.prefix):
            assert local.encode() not in content, f"{relative} names {local}"


def test_non_empty_destination_is_refused_and_untouched(tmp_path: Path) -> None:
    dest = tmp_path / "taken"
    dest.mkdir()
    (dest / "notes.txt").write_text("mine")
    with pytest.raises(ScaffoldError, match="not empty"):
        new_project(dest, defaults=True)
    assert leftovers(dest) == ["notes.txt"]
    assert leftovers(tmp_path) == ["taken"]


def test_destination_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(ScaffoldError, match="is a file"):
        new_project(tmp_path / "file", defaults=True)


def test_a_destination_that_is_a_link_is_refused_untouched(tmp_path: Path) -> None:
    (tmp_path / "target").mkdir()
    for link, target in (("link", "target"), ("dangling", "nowhere")):
        (tmp_path / link).symlink_to(target)
        with pytest.raises(ScaffoldError, match="is a symbolic link: give the folder it"):
            new_project(tmp_path / link, defaults=True)
    assert leftovers(tmp_path) == ["dangling", "link", "target"]
    assert leftovers(tmp_path / "target") == []


def test_a_parent_that_cannot_be_written_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")  # (as root, a read-only folder would not stop it)
    with pytest.raises(ScaffoldError, match=r"cannot write in .*file: Not a directory\."):
        new_project(tmp_path / "file" / "demo", defaults=True)
    assert leftovers(tmp_path) == ["file"]


def test_an_answer_to_a_question_not_asked_is_refused_not_dropped(tmp_path: Path) -> None:
    no_cuda = {"cuda_version": "none", "cuda_toolchain": "true"}  # the toolchain needs CUDA
    with pytest.raises(ScaffoldError, match=r"--data cuda_toolchain: this question is asked "):
        new_project(tmp_path / "x" / "demo", data=no_cuda, defaults=True)
    assert leftovers(tmp_path) == []


def test_empty_destination_and_missing_parents_are_fine(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert (new_project(tmp_path / "empty", defaults=True).path / "README.md").is_file()
    assert (new_project(tmp_path / "a" / "b" / "c", defaults=True).path / "README.md").is_file()


def test_invalid_answer_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(ScaffoldError, match="standard library"):
        new_project(tmp_path / "x" / "demo", data={"package_name": "json"}, defaults=True)
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("typed", ["none", "", "[]"])
def test_a_multiselect_answer_may_choose_nothing(tmp_path: Path, typed: str) -> None:
    """The launchers question says it "may be none"; --data could not say so."""
    made = new_project(tmp_path / "demo", data={"launchers": typed}, defaults=True, lock=False)
    answers = yaml.safe_load((made.path / ".copier-answers.yml").read_text(encoding="utf-8"))
    assert answers["launchers"] == []
    assert not (made.path / "slurm").exists() and not (made.path / "kubernetes").exists()


def test_unknown_template_version_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ScaffoldError, match=r"no template version 9\.9\.9"):
        new_project(tmp_path / "demo", defaults=True, template_version="9.9.9")
    assert leftovers(tmp_path) == []


def test_no_git(tmp_path: Path) -> None:
    project = new_project(tmp_path / "demo", defaults=True, init_git=False)
    assert project.commit is None
    assert not (project.path / ".git").exists()


def test_missing_git_identity_commits_as_the_author(tmp_path: Path, isolated_home: Path) -> None:
    (isolated_home / ".gitconfig").unlink()
    project = new_project(
        tmp_path / "demo",
        defaults=True,
        data={"author_name": "Ada Lovelace", "author_email": "ada@example.org"},
    )
    assert project.used_fallback_identity
    author = git("log", "--format=%an <%ae>", cwd=project.path)
    assert author == "Ada Lovelace <ada@example.org>"


def with_pre_commit(monkeypatch: pytest.MonkeyPatch, available: bool) -> None:
    """PATH with this environment's pre-commit first, or without any pre-commit."""
    bin_dir = Path(sys.executable).parent
    rest = [p for p in os.environ["PATH"].split(os.pathsep) if Path(p) != bin_dir]
    if any((Path(p) / "pre-commit").exists() for p in rest):
        pytest.skip("another pre-commit is on PATH")
    monkeypatch.setenv("PATH", os.pathsep.join([str(bin_dir)] * available + rest))
    monkeypatch.setenv("PRE_COMMIT_HOME", str(Path(os.environ["HOME"]) / "pre-commit"))


def test_the_commit_hooks_are_installed_after_the_first_commit(
    tmp_path: Path, template_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_pre_commit(monkeypatch, available=True)
    start = time.perf_counter()
    project = new_project(tmp_path / "demo", defaults=True, template=str(template_dir))
    assert project.hooks is not None and project.hooks.installed, project.hooks
    for hook_type in ("pre-commit", "commit-msg"):  # default_install_hook_types
        assert "pre-commit" in (project.path / ".git" / "hooks" / hook_type).read_text()
    assert dirty_paths(project.path) == []  # only .git/hooks was written
    assert time.perf_counter() - start < 10  # offline: no hook environment is built yet
    hooks = next(f for f in diagnose(project.path / "src") if f.check == "hooks")
    # Installed, but offline the hook repositories could not be fetched: the doctor says so.
    assert not hooks.ok and "pre-commit install-hooks" in hooks.message, hooks.message
    assert "https://github.com/astral-sh/ruff-pre-commit@v" in hooks.message


def test_without_pre_commit_the_next_steps_say_how(
    tmp_path: Path, template_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from scaffold.cli import app

    with_pre_commit(monkeypatch, available=False)
    arguments = ["new", str(tmp_path / "demo"), "--defaults", "--template", str(template_dir)]
    result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 0, result.output
    assert "Commit hooks not installed: pre-commit is not on PATH." in result.stdout
    assert "  pip install pre-commit && pre-commit install   # the commit hooks\n" in (
        result.stdout
    )
    assert not (tmp_path / "demo" / ".git" / "hooks" / "commit-msg").exists()
    hooks = next(f for f in diagnose(tmp_path / "demo") if f.check == "hooks")
    assert not hooks.ok and "pre-commit install" in hooks.message


def test_a_template_folder_given_relative_is_recorded_as_an_absolute_path(
    tmp_path: Path, template_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(template_dir.parent)
    project = new_project(tmp_path / "demo", defaults=True, template=f"./{template_dir.name}")
    answers = yaml.safe_load((project.path / ".copier-answers.yml").read_text())
    assert answers["_src_path"] == str(template_dir.resolve())


def test_a_refusing_pre_commit_never_fails_generation(
    tmp_path: Path, template_dir: Path, monkeypatch: pytest.MonkeyPatch, isolated_home: Path
) -> None:
    with_pre_commit(monkeypatch, available=True)
    with (isolated_home / ".gitconfig").open("a") as config:
        config.write("[core]\n\thooksPath = /nonexistent/hooks\n")  # pre-commit refuses this
    project = new_project(tmp_path / "demo", defaults=True, template=str(template_dir))
    assert project.hooks is not None and not project.hooks.installed
    assert "hooksPath" in project.hooks.note
    assert dirty_paths(project.path) == []


def test_a_template_without_hooks_installs_none(tmp_path: Path, monkeypatch) -> None:
    with_pre_commit(monkeypatch, available=True)
    assert new_project(tmp_path / "demo", defaults=True, template_version="0.3.0").hooks is None


class Terminal:
    """`scaffold new` running in a pseudo-terminal, read and typed into like a person would."""

    def __init__(self, *args: str, cwd: Path) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: become the scaffold command
            os.chdir(cwd)
            os.environ["PROMPT_TOOLKIT_NO_CPR"] = "1"  # no terminal queries to time out on
            os.execv(sys.executable, [sys.executable, "-m", "scaffold", *args])
        rows_columns = struct.pack("HHHH", 50, 250, 0, 0)  # wide: no wrapped messages
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, rows_columns)
        self.screen = ""

    def expect(self, pattern: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not re.search(pattern, self._plain()):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                os.kill(self.pid, signal.SIGKILL)  # a stuck child must not outlive the test
                raise AssertionError(f"{pattern!r} never appeared in:\n{self._plain()}")
            ready, _, _ = select.select([self.fd], [], [], remaining)
            if ready:
                try:
                    self.screen += os.read(self.fd, 65536).decode(errors="replace")
                except OSError:  # the child exited
                    break

    def type(self, text: str) -> None:
        os.write(self.fd, text.encode())

    def wait(self, timeout: float = 60) -> int:
        """The exit code, with the last output read onto the screen; a child still running
        after `timeout` s is killed and fails."""
        deadline = time.monotonic() + timeout
        try:
            while (remaining := deadline - time.monotonic()) > 0:
                ready, _, _ = select.select([self.fd], [], [], remaining)
                output = os.read(self.fd, 65536) if ready else b""
                if ready and not output:
                    break
                self.screen += output.decode(errors="replace")
            else:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
                raise AssertionError(f"still running after {timeout} s:\n{self._plain()}")
        except OSError:
            pass
        _, status = os.waitpid(self.pid, 0)
        os.close(self.fd)
        return os.waitstatus_to_exitcode(status)

    def _plain(self) -> str:
        return re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", self.screen)


def test_interactive_prompts_validate_and_generate(tmp_path: Path) -> None:
    terminal = Terminal("new", "demo", cwd=tmp_path)
    terminal.expect("Ctrl-U clears it")  # typing at a prompt appends to the default
    terminal.expect("Project name")
    terminal.type("\r")  # accept the default: the directory's name
    terminal.expect("Python package")
    terminal.type("\x15json\r")  # clear the default, type a taken name
    terminal.expect("taken by Python")
    terminal.type("\x15demo_pkg\r")
    for question in (
        "description",
        "Author name",
        "Author e-mail",
        "Licence",
        "Python version",
        "CUDA version",
        "CUDA compile toolchain",
        "Platforms",
        "Experiment tracker",
        "Where training jobs are launched",
        "Continuous integration",
    ):
        terminal.expect(question)
        terminal.type("\r")
    assert terminal.wait() == 0, terminal.screen
    answers = yaml.safe_load((tmp_path / "demo" / ".copier-answers.yml").read_text())
    assert answers["package_name"] == "demo_pkg"
    assert dirty_paths(tmp_path / "demo") == []


@pytest.mark.parametrize("interrupt", ["ctrl-c", "sigterm", "sighup"])
def test_interrupted_generation_leaves_nothing(tmp_path: Path, interrupt: str) -> None:
    terminal = Terminal("new", "demo", cwd=tmp_path)
    terminal.expect("Project name")
    terminal.type("\r")
    terminal.expect("Python package")
    if interrupt == "ctrl-c":
        terminal.type("\x03")
    else:  # `kill` or a cancelled CI job; a closed terminal or a dropped SSH connection
        os.kill(terminal.pid, signal.SIGTERM if interrupt == "sigterm" else signal.SIGHUP)
    exit_code = {"ctrl-c": 130, "sigterm": 143, "sighup": 129}[interrupt]
    assert terminal.wait() == exit_code  # 128 + the signal, as a shell reports it
    assert leftovers(tmp_path) == []
    assert "interrupted: nothing was generated at" in terminal._plain()
    if interrupt == "ctrl-c":  # the prompt's own key: nothing else is said
        assert "AnswersMap" not in terminal.screen and "Traceback" not in terminal.screen
        tail = terminal._plain().rsplit("Python package", 1)[-1]
        assert len(" ".join(tail.split())) < 300, terminal.screen  # one line, not a traceback
    # SIGTERM reaches the prompt's event loop between two of its steps, and prompt_toolkit
    # may then report that loop's end in lines of its own ("Unhandled exception in event
    # loop"). SIGTERM comes from CI, `kill` or a job's time limit, rarely while a person
    # answers questions; what it must do, undo all and say so, is checked above.


def test_plain_copier_copies_this_repository_without_trust(tmp_path: Path) -> None:
    """Users without scaffold can run copier on the repository itself."""
    root = Path(__file__).resolve().parent.parent
    source = tmp_path / "clone"
    git("clone", "--quiet", str(root), str(source))
    subprocess.run(["git", "-C", str(source), "tag", f"v{TEMPLATE_VERSION}"], check=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "copier",
            "copy",
            "--defaults",
            "--quiet",
            "--data",
            "project_name=Plain",
            str(source),
            str(tmp_path / "plain"),
        ],
        check=True,
    )
    assert (tmp_path / "plain" / "src" / "plain" / "cli.py").is_file()
