"""Calibrating a judge against people: how often does it agree with the labels we already have?

Every promoted case carries two human labels for free: the flagged output (`source.bad_output`)
is bad, the annotated expected output is good. `cases label TRACE_ID --good|--bad` adds more, kept
in the store's `labels` table (a stored label beats a case's label for the same output and
expected output). `calibrate` grades every labelled output with a grader configuration - the
judge, though any grader works - exactly as a run would (`grade_safely`: a judge that errors has
failed the case) and reports accuracy, Cohen's kappa, the true-pass rate (good outputs it passes),
the true-fail rate (bad outputs it fails), the confusion matrix and every disagreement.

The result is stored under the configuration's hash: the grader spec, plus the content of any
file it names (a rubric file edited is a new judge) and the judge's prompt template version.
`calibration_status(store, spec)` gives the latest kappa for a spec, so that `cases run` can mark
results of a judge with no calibration, or kappa below `RELIABLE_KAPPA`, as unreliable.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from casebank.errors import InvalidInput, UsageError
from casebank.replay._suite import DEFAULT_SUITE, count_cases, load_suite
from casebank.replay.graders import Grader, Verdict, batches, grade_batch_safely, grade_safely, make_grader
from casebank.store import Store, output_hash, utc_now

__all__ = [
    "RELIABLE_KAPPA",
    "Calibration",
    "Labelled",
    "calibrate",
    "calibration_status",
    "cohen_kappa",
    "config_hash",
    "labelled_outputs",
]

RELIABLE_KAPPA = 0.6  # "substantial" agreement starts here (Landis & Koch); below it a verdict is a coin
JUDGE_WORKERS = 8  # judge calls wait on the network, not the CPU


@dataclass(kw_only=True)
class Labelled:
    """One output a person has judged, and where that judgement came from."""

    source: str  # e.g. "case 3f9a0c1b2d4e bad output", "label 4bf92f35..."
    output: Any
    expected: Any
    good: bool
    note: str | None = None


@dataclass(kw_only=True)
class Disagreement:
    source: str
    label: str  # what people said: good or bad
    passed: bool  # what the grader said
    reason: str
    output: Any


@dataclass(kw_only=True)
class Calibration:
    config_hash: str
    grader: dict[str, Any]
    suite: str | None
    total: int
    confusion: dict[str, int]  # good_passed, good_failed, bad_passed, bad_failed
    accuracy: float
    kappa: float | None  # None when it is undefined: every label, or every verdict, the same
    true_pass_rate: float | None
    true_fail_rate: float | None
    disagreements: list[Disagreement] = field(default_factory=list)
    calibrated_at: str = ""

    @property
    def reliable(self) -> bool:
        return self.kappa is not None and self.kappa >= RELIABLE_KAPPA

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "reliable": self.reliable}


def config_hash(spec: Mapping[str, Any], *, base_dir: Path | None = None) -> str:
    """`sha256:` over what decides a grader's verdicts: its spec, the files it names, its template."""
    return _grader_hash(make_grader(spec, base_dir=base_dir))


def _grader_hash(grader: Grader) -> str:
    options = dict(grader.options)
    files = {}
    for name, value in sorted(options.items()):
        if name.endswith("_file") and isinstance(value, str):
            files[name] = hashlib.sha256(grader.path_option(name).read_bytes()).hexdigest()
    material: dict[str, Any] = {"name": grader.name, "options": options, "files": files}
    if grader.name == "llm_judge":
        from casebank.replay.graders._judge import TEMPLATE_VERSION

        material["template"] = TEMPLATE_VERSION
    canonical = orjson.dumps(material, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    return "sha256:" + hashlib.sha256(canonical).hexdigest()


def labelled_outputs(store: Store, suite_dir: Path | None = None) -> list[Labelled]:
    """Every labelled output: two per case in the suite, then the store's labels.

    `suite_dir` None means the default suite folder, which may be missing (then only stored labels
    count); a folder named explicitly must be a suite."""
    items: dict[tuple[str, str], Labelled] = {}
    folder = suite_dir if suite_dir is not None else DEFAULT_SUITE
    if suite_dir is not None or (folder.is_dir() and count_cases(folder)):
        for case in load_suite(folder).cases:
            good = Labelled(source=f"case {case.id} expected", output=case.expected, expected=case.expected, good=True)
            items[_key(good)] = good
            source = case.source or {}
            if source.get("bad_output") is not None:
                bad = Labelled(
                    source=f"case {case.id} bad output", output=source["bad_output"], expected=case.expected, good=False
                )
                items[_key(bad)] = bad
    for label in store.list_labels():
        item = Labelled(
            source=f"label {label['subject']}",
            output=label["output"],
            expected=label["expected"],
            good=label["label"] == "good",
            note=label["note"],
        )
        items[_key(item)] = item
    return list(items.values())


def _key(item: Labelled) -> tuple[str, str]:
    return output_hash(item.output), output_hash(item.expected)


def cohen_kappa(confusion: Mapping[str, int]) -> float | None:
    """Cohen's kappa of people (good/bad) against the grader (pass/fail); None where undefined."""
    gp, gf = confusion["good_passed"], confusion["good_failed"]
    bp, bf = confusion["bad_passed"], confusion["bad_failed"]
    n = gp + gf + bp + bf
    if n == 0:
        return None
    observed = (gp + bf) / n
    good, passed = (gp + gf) / n, (gp + bp) / n
    chance = good * passed + (1 - good) * (1 - passed)
    if chance >= 1.0:
        return None
    return (observed - chance) / (1 - chance)


def _grade_all(grader: Grader, items: Sequence[Labelled]) -> list[Verdict]:
    if batches(grader):
        verdicts = grade_batch_safely(type(grader), [(grader, item.output, item.expected) for item in items])
        if verdicts is not None:
            return verdicts
    with ThreadPoolExecutor(max_workers=JUDGE_WORKERS, thread_name_prefix="casebank-calibrate") as pool:
        return list(pool.map(lambda item: grade_safely(grader, item.output, item.expected), items))


def calibrate(store: Store, spec: Mapping[str, Any], *, suite_dir: Path | None = None) -> Calibration:
    """Grade every labelled output with `spec`, measure agreement with people, store and return it.

    File options of the spec (a rubric file) are relative to the suite folder."""
    base_dir = suite_dir if suite_dir is not None else DEFAULT_SUITE
    grader = make_grader(spec, base_dir=base_dir)
    items = labelled_outputs(store, suite_dir)
    if not items:
        raise UsageError(
            f"no labelled outputs in suite '{base_dir}' or store '{store.location}' - promote a case, "
            "or label traces with 'cases label TRACE_ID --good' / '--bad'"
        )
    from casebank.replay.graders._judge import caching_in_store

    with caching_in_store(store):
        verdicts = _grade_all(grader, items)
    confusion = {"good_passed": 0, "good_failed": 0, "bad_passed": 0, "bad_failed": 0}
    disagreements = []
    for item, verdict in zip(items, verdicts, strict=True):
        confusion[f"{'good' if item.good else 'bad'}_{'passed' if verdict.passed else 'failed'}"] += 1
        if verdict.passed != item.good:
            disagreements.append(
                Disagreement(
                    source=item.source,
                    label="good" if item.good else "bad",
                    passed=verdict.passed,
                    reason=verdict.reason,
                    output=item.output,
                )
            )
    good = confusion["good_passed"] + confusion["good_failed"]
    bad = confusion["bad_passed"] + confusion["bad_failed"]
    result = Calibration(
        config_hash=_grader_hash(grader),
        grader=grader.spec(),
        suite=str(suite_dir) if suite_dir is not None else None,
        total=len(items),
        confusion=confusion,
        accuracy=(confusion["good_passed"] + confusion["bad_failed"]) / len(items),
        kappa=cohen_kappa(confusion),
        true_pass_rate=confusion["good_passed"] / good if good else None,
        true_fail_rate=confusion["bad_failed"] / bad if bad else None,
        disagreements=disagreements,
        calibrated_at=utc_now(),
    )
    store.record_calibration({**asdict(result)})
    return result


def calibration_status(store: Store, grader_spec: Mapping[str, Any], *, base_dir: Path | None = None) -> float | None:
    """The kappa of the latest calibration of this exact grader configuration; None if it has none
    (or its kappa was undefined). A run marks results with None or < RELIABLE_KAPPA unreliable."""
    try:
        key = config_hash(grader_spec, base_dir=base_dir)
    except InvalidInput:
        return None
    latest = store.latest_calibration(key)
    if latest is None or latest["kappa"] is None:
        return None
    return float(latest["kappa"])
