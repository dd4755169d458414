"""Record the template in this checkout as release `scaffold.__version__`.

Run it after changing `copier.yml`, `template/` or `CHANGELOG.md`, with a version bump:

    python scripts/release_template.py

It appends a tagged commit to scaffold/data/template-history.bundle, which ships with the
package so that `scaffold update` can regenerate any released version offline.
"""

import sys
from pathlib import Path

from scaffold import __version__
from scaffold.errors import ScaffoldError
from scaffold.template_history import BUNDLE, record_release


def main() -> int:
    root = Path(__file__).resolve().parent.parent
    try:
        added = record_release(root, __version__)
    except ScaffoldError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    state = "recorded" if added else "already recorded, unchanged"
    print(f"template v{__version__} {state} in {BUNDLE.relative_to(root)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
