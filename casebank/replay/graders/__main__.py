"""`python -m casebank.replay.graders`: print the README's grader table, generated from the registry.

`python -m casebank.replay.graders --write README.md` puts it in place between the README's
graders markers (tests/replay/graders/test_help.py fails while the two disagree).
"""

from __future__ import annotations

import sys
from pathlib import Path

from casebank.replay.graders._help import readme_table, write_readme_table


def main(argv: list[str]) -> int:
    if not argv:
        print(readme_table())
        return 0
    if len(argv) == 2 and argv[0] == "--write":
        changed = write_readme_table(Path(argv[1]))
        print(f"{'updated' if changed else 'already current:'} the grader table in {argv[1]}")
        return 0
    print("usage: python -m casebank.replay.graders [--write README.md]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
