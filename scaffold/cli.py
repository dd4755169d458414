"""The `scaffold` command line: parse options, call one core function, report.

Heavy imports (copier, jinja, yaml) happen inside the commands, so that `scaffold --help`
and shell completion start fast. tests/test_cli.py keeps it so.
"""

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from scaffold import __version__
from scaffold.errors import ScaffoldError
from scaffold.interrupts import signal_of


class _Scaffold(typer.Typer):
    """A Typer whose commands all report a ScaffoldError the same way: its message and
    details on stderr, no traceback, its exit code; and Ctrl-C as one line, exit 130.
    New commands get this for free."""

    def command(self, *args: Any, **kwargs: Any) -> Callable[[Callable], Callable]:
        register = super().command(*args, **kwargs)

        def decorator(function: Callable) -> Callable:
            @functools.wraps(function)
            def reporting(*call_args: Any, **call_kwargs: Any) -> Any:
                try:
                    return function(*call_args, **call_kwargs)
                except ScaffoldError as error:
                    typer.echo(f"error: {error}", err=True)
                    for line in error.details:
                        typer.echo(f"  {line}", err=True)
                    raise typer.Exit(error.exit_code) from None
                except KeyboardInterrupt as error:  # where nothing was left to undo
                    typer.echo("interrupted.", err=True)
                    raise typer.Exit(128 + signal_of(error)) from None

            register(reporting)
            return function

        return decorator


app = _Scaffold(
    help="Generate complete, working ML research repositories and keep them up to date.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

# copier's prompts start with the default already typed in: typing appends to it.
PROMPT_HINT = (
    "Each answer starts filled in with its default: Enter keeps it, "
    "Ctrl-U clears it so you can type your own."
)

DataOption = Annotated[
    list[str] | None,
    typer.Option(
        "--data",
        "-d",
        metavar="KEY=VALUE",
        help="Answer a question without being asked; repeat for several. "
        "Lists: --data platforms=linux-64,osx-arm64.",
    ),
]


def _parse_data(pairs: list[str] | None) -> dict[str, str]:
    from scaffold.answers import parse_pairs

    return parse_pairs(pairs or [])


def _repo_around(directory: Path) -> Path | None:
    from scaffold.git import repo_root

    return repo_root(directory)


def _print_version(value: bool) -> None:
    if value:
        from scaffold.template_history import latest_version

        try:
            template = f"template v{latest_version()}"
        except ScaffoldError as error:
            template = f"template history unreadable: {error}"
        typer.echo(f"scaffold {__version__} ({template})")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    """Generate complete, working ML research repositories and keep them up to date."""


@app.command()
def new(
    dest: Annotated[
        Path, typer.Argument(help="Directory to create (must not exist, or be empty).")
    ],
    data: DataOption = None,
    defaults: Annotated[
        bool,
        typer.Option("--defaults", help="Take the default for every question not set by --data."),
    ] = False,
    git: Annotated[
        bool, typer.Option("--git/--no-git", help="git init and commit the generated project.")
    ] = True,
    template_version: Annotated[
        str | None,
        typer.Option(help="Generate from this released template version (default: newest)."),
    ] = None,
    template: Annotated[
        str | None,
        typer.Option(
            help="Use this copier template (path or git URL) instead of the bundled one."
        ),
    ] = None,
    lock: Annotated[
        bool,
        typer.Option(
            "--lock/--no-lock",
            help="Pin the conda environment right away when its channels answer.",
        ),
    ] = True,
    channel: Annotated[
        list[str] | None,
        typer.Option(
            "--channel",
            "-c",
            help="Lock against this channel: a URL, a name, or a path (/, ./, ../, ~/).",
        ),
    ] = None,
) -> None:
    """Generate a new ML project at DEST: asks its questions, or takes --defaults."""
    from scaffold.generation import INSTALL_HOOKS, new_project

    if not defaults and sys.stdin.isatty():
        typer.echo(PROMPT_HINT, err=True)
    project = new_project(
        dest,
        data=_parse_data(data),
        defaults=defaults,
        init_git=git,
        template_version=template_version,
        template=template,
        lock=lock,
        channels=channel,
    )
    package = project.answers["package_name"]
    typer.echo(f"Created {project.path} from template v{project.template_version}.")
    if project.commit:
        typer.echo(f"First commit: {project.commit[:12]}.")
    if project.lock_note:
        typer.echo(project.lock_note)
    if git and (outer := _repo_around(project.path.parent)):
        typer.echo(
            f"Note: {project.path} is inside the git repository {outer} and has its own "
            "repository; generate with --no-git to make it part of the outer one instead."
        )
    if project.used_fallback_identity:
        typer.echo(
            "git has no user.name/user.email here, so that commit uses the project's author; "
            "set yours with `git config --global user.name/user.email`."
        )
    if project.hooks:
        typer.echo(project.hooks.note)
    extras = ",".join(extra for extra in ("dev", "sweep") if extra in project.extras)
    steps = [
        f"cd {dest}",
        "python3 -m venv .venv && . .venv/bin/activate   # or conda: README, Set up",
        "pip install torch --index-url https://download.pytorch.org/whl/cpu"
        "   # no NVIDIA GPU here? (README: Set up)",
        f"pip install --editable '.[{extras}]'" if extras else "pip install --editable .",
        "make smoke",
        f"{package} --help",
    ]
    if project.hooks and not project.hooks.installed:
        steps.append(f"{INSTALL_HOOKS}   # the commit hooks")
    typer.echo("\nNext:\n" + "".join(f"  {step}\n" for step in steps), nl=False)


ConflictMode = Literal["inline", "rej"]
RepoPath = Annotated[
    Path, typer.Argument(help="The generated repo (or any folder inside it); default: here.")
]


@app.command()
def update(
    path: RepoPath = Path("."),
    to: Annotated[
        str | None, typer.Option("--to", help="Template version to update to (default: newest).")
    ] = None,
    data: DataOption = None,
    defaults: Annotated[
        bool,
        typer.Option("--defaults", help="Keep every other answer; ask nothing."),
    ] = False,
    conflict: Annotated[
        ConflictMode,
        typer.Option(help="Leave conflicts as inline markers, or as .rej files beside each file."),
    ] = "inline",
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Only say whether a newer template (or --to's) exists and what changed "
            "(exit 1 if so).",
        ),
    ] = False,
) -> None:
    """Merge a newer template version into a generated repo, keeping your edits."""
    from scaffold import renames
    from scaffold import update as updating

    if check:
        if data:
            raise ScaffoldError("--check only reports, and changes no answer: drop --data.")
        status = updating.check(path, to_version=to)
        if not status.available:
            newest = "" if to else ", the newest"
            typer.echo(f"Up to date: this repo is at template v{status.current}{newest}.")
            return
        typer.echo(f"Template v{status.target} is available (this repo: v{status.current}).")
        _show_long(f"\n{status.changelog}\n")
        typer.echo("Run `scaffold update` to merge it.")
        raise typer.Exit(1)  # as `lock --check` and doctor do: there is something to do
    if not defaults and sys.stdin.isatty():
        typer.echo(PROMPT_HINT, err=True)
    result = updating.update_project(
        path, to_version=to, data=_parse_data(data), defaults=defaults, conflict=conflict
    )
    if not result.changed:
        typer.echo(f"Nothing to do: already at template v{result.new_version}.")
        return
    if result.old_version == result.new_version:  # --data alone: new answers, same template
        typer.echo(f"Regenerated with the new answers, at template v{result.new_version}:")
    else:
        typer.echo(f"Updated from template v{result.old_version} to v{result.new_version}:")
    moved_to = dict(result.moved)
    arrived = set(moved_to.values())
    for name in result.changed:
        if name in moved_to:
            typer.echo(f"  {name} -> {moved_to[name]}")
        elif name not in arrived:
            # A deleted file's last version, your edits in it too, stays in git's history.
            gone = (
                f"   (deleted; `git show HEAD:{name}` shows it)" if name in result.deleted else ""
            )
            typer.echo(f"  {name}{gone}")
    from scaffold.lockfile import LOCK_FILE

    how = (
        ". It changed the environment files, so re-pin the lock, then commit it with the "
        f"rest:\n  scaffold lock && git add {LOCK_FILE}"
        if result.relock
        else ", then commit it:"
    )
    typer.echo(
        f"\nThe whole update is staged. Review it with `git diff --staged`{how}\n"
        f"  git commit -m '{result.commit_message}'"
    )
    if result.skipped:
        typer.echo(f"\n{updating.describe_skipped(result.skipped)}")
    if result.folders:
        typer.echo(f"\n{renames.describe_folders(result.folders, result.ignored)}")
    if result.old_names:
        typer.echo(f"\n{renames.describe_old_names(result.old_names)}")
    if result.lock and not result.lock.present:
        typer.echo(f"\n{result.lock.describe()}")


def _show_long(text: str) -> None:
    """Print `text`, through the user's pager ($PAGER, else less) where it would scroll off
    a terminal: the changelog of a repo many releases behind runs to hundreds of lines."""
    import pydoc
    import shutil

    if sys.stdout.isatty() and text.count("\n") >= shutil.get_terminal_size().lines:
        pydoc.pager(text)
    else:
        typer.echo(text)


@app.command()
def lock(
    path: RepoPath = Path("."),
    platform: Annotated[
        list[str] | None,
        typer.Option("--platform", "-p", help="Lock only this platform; repeat for several."),
    ] = None,
    channel: Annotated[
        list[str] | None,
        typer.Option(
            "--channel",
            "-c",
            help="Solve against this channel instead of environment.yml's: a URL, a name, or "
            "a path (/, ./, ../, ~/); repeat for several.",
        ),
    ] = None,
    update: Annotated[
        list[str] | None,
        typer.Option("--update", help="Move only this package (others stay pinned); repeat."),
    ] = None,
    conda: Annotated[
        str | None,
        typer.Option(
            "--conda", help="Solve with this conda, mamba or micromamba instead of py-rattler."
        ),
    ] = None,
    check: Annotated[
        bool,
        typer.Option("--check", help="Only say whether conda-lock.yml matches the inputs."),
    ] = False,
) -> None:
    """Pin the conda environment for every platform in conda-lock.yml (no conda needed)."""
    from scaffold import answers, lockfile, locking

    project = answers.project_root(path)
    if check:
        locking.require_environment(project)
        freshness = lockfile.check_freshness(project)
        typer.echo(freshness.describe())
        if not freshness.fresh:
            raise typer.Exit(1)
        return
    result = locking.lock(
        project, platforms=platform, channels=channel, update=update, conda=conda
    )
    counts = ", ".join(f"{name}: {count} packages" for name, count in result.packages.items())
    typer.echo(f"Locked {result.path.name} ({counts}).")
    for change in result.changes:
        typer.echo(f"  {change}")
    if note := result.local_note():
        typer.echo(f"note: {note}", err=True)


@app.command()
def doctor(
    path: RepoPath = Path("."),
) -> None:
    """Diagnose a generated repo: git, template, hooks, lock, environment, GPU driver.

    Exits 1 when something needs action; each failed check says what to do.
    """
    from scaffold.doctor import diagnose

    findings = diagnose(path)
    for finding in findings:
        mark = "ok  " if finding.ok else "FAIL"
        typer.echo(f"{mark} {finding.check}: {finding.message}")
    if not all(finding.ok for finding in findings):
        raise typer.Exit(1)


@app.command("check-commits")
def check_commits(
    revisions: Annotated[
        str | None,
        typer.Argument(
            metavar="BASE..HEAD",
            help="The commits to check (default: HEAD's commits not on origin/main, or main).",
        ),
    ] = None,
    repo: Annotated[
        Path, typer.Option("--repo", help="The repository (or any folder inside it).")
    ] = Path("."),
) -> None:
    """Check every commit of a range against the commit hooks' rules; exits 1 on any problem."""
    from scaffold.commits import check_range

    report = check_range(repo, revisions)
    for violation in report.violations:
        typer.echo(str(violation))
    if report.violations:
        typer.echo(
            f"\n{len(report.violations)} problem(s) in {report.commits_at_fault} of "
            f"{report.commits} commit(s) of {report.revisions}. Rewrite them with "
            f"`{report.rewrite}` (reword, edit, split: "
            "https://github.com/scaffold-ml/scaffold/blob/main/docs/commit-hooks.md).",
            err=True,
        )
        raise typer.Exit(1)
    typer.echo(f"{report.commits} commit(s) of {report.revisions}: no problems.")


image_app = _Scaffold(
    help="Build, run and push the repo's Docker image (tagged with the commit).",
    no_args_is_help=True,
)
app.add_typer(image_app, name="image")
ImageRepo = Annotated[
    Path, typer.Option("--repo", help="The generated repo (or any folder inside it).")
]
AllowDirty = Annotated[
    bool,
    typer.Option("--allow-dirty", help="Use uncommitted code (the tag ends in -dirty)."),
]


@image_app.command("build")
def image_build(path: ImageRepo = Path("."), allow_dirty: AllowDirty = False) -> None:
    """Build the image of HEAD from the Dockerfile, tagged <package>:<commit>."""
    from scaffold import images

    tag, image_id = images.build(path, allow_dirty=allow_dirty, echo=typer.echo)
    typer.echo(f"Built {tag} ({image_id}).")


@image_app.command("run", context_settings={"allow_interspersed_args": False})
def image_run(
    args: Annotated[
        list[str] | None,
        typer.Argument(help="The project's command line, after --: e.g. -- train --smoke."),
    ] = None,
    path: ImageRepo = Path("."),
    allow_dirty: AllowDirty = False,
) -> None:
    """Run the image of HEAD with data/ and runs/ mounted (and the GPUs, when there are)."""
    from scaffold import images

    raise typer.Exit(images.run(path, args or [], allow_dirty=allow_dirty, echo=typer.echo))


@image_app.command("push")
def image_push(
    registry: Annotated[
        str,
        typer.Argument(
            help="Where to push: a registry host, its port and namespace if any (ghcr.io/me)."
        ),
    ],
    path: ImageRepo = Path("."),
    allow_dirty: AllowDirty = False,
) -> None:
    """Push the image of HEAD to REGISTRY, under the same name and tag."""
    from scaffold import images

    reference = images.push(path, registry, allow_dirty=allow_dirty, echo=typer.echo)
    typer.echo(f"Pushed {reference}.")


def main() -> None:
    """Entry point of the `scaffold` console script."""
    app(prog_name="scaffold")
