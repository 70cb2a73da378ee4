"""The held-out split: `cases holdout --fraction 0.2` and what `cases run` does with it.

A case is held out when a hash of its id falls under the fraction: SHA-256 of
`casebank holdout:<id>`, its first 8 bytes read as a number in [0, 1). The rule depends on the
id alone, so the split survives the suite growing, never moves a case, and a new case joins
dev or holdout by the same rule without anyone deciding. (The prefix keeps it independent of
`--shard`, which hashes the bare id.)

Where it lives: `holdout.toml` in the suite folder, holding the fraction. Case files are frozen
and content-hashed, so membership is not written into them; and the split belongs to the suite
(it travels with it in git, and a second suite has its own), not to a machine's config. Changing
the fraction would move cases, so `cases holdout` refuses that without `--force`.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from casebank.errors import InvalidInput, SuiteError, UsageError
from casebank.replay._stats import CaseOutcome, Rate, difference_interval

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the CI runs one Python
    import tomli as tomllib

__all__ = ["SPLIT_FILE", "Split", "held_out", "read_split", "split_lines", "write_split"]

SPLIT_FILE = "holdout.toml"
_SCALE = float(1 << 64)


def held_out(case_id: str, fraction: float) -> bool:
    """Whether the case with this id is in the held-out split at this fraction."""
    digest = hashlib.sha256(f"casebank holdout:{case_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE < fraction


@dataclass(kw_only=True, frozen=True)
class Split:
    fraction: float
    path: Path

    def holdout(self, case_ids: Iterable[str]) -> set[str]:
        return {case_id for case_id in case_ids if held_out(case_id, self.fraction)}


def read_split(suite_dir: Path) -> Split | None:
    """The suite's split, or None when it has none."""
    path = suite_dir / SPLIT_FILE
    if not path.is_file():
        return None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SuiteError(f"cannot read held-out split '{path}': {exc} - restore it from git") from None
    fraction = data.get("fraction")
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction < 1:
        raise SuiteError(f"held-out split '{path}' has fraction {fraction!r}, not a number between 0 and 1 - fix it")
    return Split(fraction=float(fraction), path=path)


def write_split(suite_dir: Path, fraction: float, case_ids: Iterable[str], *, force: bool = False) -> Split:
    """Record the split; refuses (without `force`) a change of fraction that would move existing cases."""
    if not 0 < fraction < 1:
        raise InvalidInput(f"--fraction {fraction} is not between 0 and 1 - pass e.g. --fraction 0.2")
    ids = list(case_ids)
    current = read_split(suite_dir)
    if current is not None and current.fraction != fraction and not force:
        moved = current.holdout(ids) ^ {case_id for case_id in ids if held_out(case_id, fraction)}
        if moved:
            raise UsageError(
                f"the suite is split at fraction {current.fraction:g}; {fraction:g} would move {len(moved)} "
                f"case(s) between dev and holdout - keep {current.fraction:g}, or pass --force"
            )
    path = suite_dir / SPLIT_FILE
    text = (
        "# The held-out split of this suite ('cases holdout'). A case is held out when the first 8 bytes of\n"
        "# sha256('casebank holdout:' + its id), read as a fraction of 2**64, are under `fraction`.\n"
        f"fraction = {fraction!r}\n"
    )
    try:
        suite_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise SuiteError(f"cannot write '{path}': {exc.strerror} - pass a writable --suite") from None
    return Split(fraction=fraction, path=path)


def split_lines(cases: Iterable[CaseOutcome], holdout: set[str]) -> list[str]:
    """`cases run`'s lines on the split: each side's pass rate, and a warning when dev passes markedly more.

    "Markedly" means the 95% interval of dev minus holdout (Newcombe's, from the two Wilson
    intervals) lies wholly above zero: a gap that the cases' own noise does not explain, the sign
    of prompts tuned on the dev cases.
    """
    dev = [case for case in cases if case.case_id not in holdout]
    held = [case for case in cases if case.case_id in holdout]
    if not dev or not held:
        return []
    a = Rate.of(sum(case.passed for case in dev), len(dev))
    b = Rate.of(sum(case.passed for case in held), len(held))
    lines = [f"dev {a.passed}/{a.total} {a.text()}; holdout {b.passed}/{b.total} {b.text()}"]
    low, high = difference_interval(a, b)
    if low > 0:
        lines.append(
            f"warning: dev passes {(a.rate - b.rate) * 100:.1f} points more than holdout (95% CI "
            f"{low * 100:.1f} to {high * 100:.1f}): the suite may be tuned to its dev cases - check changes "
            "against holdout, and tune with 'cases run --exclude-holdout'"
        )
    return lines
