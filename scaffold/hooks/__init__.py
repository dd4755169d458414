"""scaffold's commit hooks: atomic commits, commit messages, a fresh lock, no artifacts.

Generated repos run them through pre-commit (`.pre-commit-hooks.yaml` at the top of this
repository) on every commit, and `scaffold check-commits` applies the same rules to every
commit of a range in CI. Installing them must cost nothing, so pre-commit runs them with
the interpreter already on PATH (`scaffold/hooks/run`) and they import only Python's
standard library and scaffold's stdlib-only modules (`scaffold.lockfile`): never copier,
yaml, rattler or typer. tests/test_hook_imports.py keeps it so.

One module per hook, each a `main(argv=None) -> int` around pure functions that the tests
and `scaffold.commits` call directly; `changes`, `settings` and `report` are shared.
"""

import sys

# python3 on PATH may be older than scaffold's own floor: say so rather than crash.
if sys.version_info < (3, 11):  # noqa: UP036
    sys.exit(
        f"scaffold's commit hooks need Python 3.11 or newer, and `{sys.executable}` is "
        f"{sys.version.split()[0]}: put a newer python3 first on PATH, or set "
        "SCAFFOLD_HOOKS_PYTHON=/path/to/python3.11 for the hooks alone."
    )
