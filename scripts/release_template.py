"""Record the template in this checkout as a new release, if it changed.

Run it after changing `copier.yml`, `template/` or `CHANGELOG.md`, having added a
`## vX.Y.Z` section at the top of CHANGELOG.md (that heading is the version released):

    python scripts/release_template.py

It appends a tagged commit to scaffold/data/template-history.bundle, which ships with the
package so that `scaffold update` can regenerate any released version offline, and pins
the new tag's tree in scaffold/data/template-releases.txt. The template's versions are its
own: a change to the `scaffold` package alone releases nothing.
"""

import sys
from pathlib import Path

# This checkout's scaffold, whichever one the environment installed: the bundle written
# or read is the one beside this script.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scaffold.errors import ScaffoldError
from scaffold.template_history import BUNDLE, latest_version, record_release


def main() -> int:
    root = Path(__file__).resolve().parent.parent
    try:
        version = record_release(root)
    except ScaffoldError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if version is None:
        print(f"nothing to release: the template equals v{latest_version()}, its newest release")
    else:
        print(f"template v{version} recorded in {BUNDLE.relative_to(root)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
