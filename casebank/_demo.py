"""`cases demo`: the whole loop, for real, on the bundled example support bot.

The demo is a script of real commands, not a simulation. It copies the example bot into a fresh
temporary folder and runs there, as subprocesses, exactly what a user would type - the bot
itself (`python -m support_bot`), then `cases flag / show / annotate / promote / run / status` -
printing each command before its output. Between runs it edits the bot's source, and the file
standing in for the bot's live policy service: a frozen replay (`--frozen-tools`) tests the
code, a live one the service's drift. Each step's exit code is checked, so the demo doubles as
an end-to-end check of the installed package: when a step misbehaves it says which one, keeps
the folder for a look, and exits 1.

`cases` runs as `sys.executable -m casebank`, so the demo uses whichever casebank is running it
(no reliance on `cases` being on PATH), and the store is pinned with `CASEBANK_DB` so a user's
own setting cannot leak in. Bytecode caching is off in the subprocesses: the demo edits the bot's
source between runs, and an edit of the same size within one second could otherwise be masked
by a stale `.pyc`.
"""

from __future__ import annotations

import difflib
import importlib.resources
import importlib.util
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, TextIO

__all__ = ["example_source", "run_demo"]

STEP_TIMEOUT_S = 120
KNOWLEDGE = Path("support_bot") / "knowledge.py"
# The bot's policy service, a JSON file in the working folder that `lookup_policy` (a
# @casebank.tool) reads on every call; the demo changes it under the case, as the world would.
POLICIES = Path("policies.json")
# The bug the example ships with, its fix, and the later change that brings it back. The demo
# edits the copied source with these, as a developer would, and prints each edit as a diff.
_BUGGY_FACT = '"Refunds are accepted within 30 days of delivery."'
_FIXED_FACT = '"Refunds are accepted within 14 days of delivery."'
_EXCHANGES_FACT = (
    '    Fact("returns", ("exchange", "wrong", "size", "return"), "Wrong size? Exchange it free within 30 days."),\n'
)
_POLICY_DELIVERY = '  "delivery": "Over the holidays, delivery takes 5 to 7 working days."\n'
_POLICY_RETURNS = '  "returns": "Over the holidays, anything bought in December can be returned until 31 January."\n'
_EXPECTED = "within 14 days"


class _StepFailed(Exception):
    """A step did not behave as the demo expects; the message says which and how."""


def example_source() -> Path:
    """The example bot's folder: inside the installed package (wheel), else in the source tree."""
    bundled = importlib.resources.files("casebank") / "_examples" / "support_bot"
    if isinstance(bundled, Path) and bundled.is_dir():
        return bundled
    in_repo = Path(__file__).resolve().parent.parent / "examples" / "support_bot"
    if in_repo.is_dir():
        return in_repo
    raise _StepFailed(
        f"the example support bot is missing (looked in '{bundled}' and '{in_repo}') - reinstall casebank"
    )


class _Session:
    """One demo run: a folder, a store, and a transcript of the commands run in it."""

    def __init__(self, folder: Path, out: TextIO) -> None:
        self.folder = folder
        self.out = out
        self.env = dict(os.environ)
        self.env["CASEBANK_DB"] = str(folder / ".casebank" / "casebank.db")
        self.env["PYTHONDONTWRITEBYTECODE"] = "1"
        self.env.setdefault("COLUMNS", str(shutil.get_terminal_size(fallback=(100, 24)).columns))

    def write(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def heading(self, text: str) -> None:
        self.write()
        self.write(f"## {text}")

    def note(self, text: str) -> None:
        for line in text.splitlines():
            self.write(f"# {line}")

    def run(self, shown: list[str], argv: list[str], *, expect: int = 0) -> subprocess.CompletedProcess[str]:
        """Run `argv` in the demo folder, printing it as `shown`; its exit code must be `expect`."""
        self.write(f"$ {shlex.join(shown)}")
        try:
            done = subprocess.run(
                argv,
                cwd=self.folder,
                env=self.env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=STEP_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise _StepFailed(f"'{shlex.join(shown)}' did not finish within {STEP_TIMEOUT_S} s") from None
        if done.stdout:
            self.out.write(done.stdout if done.stdout.endswith("\n") else done.stdout + "\n")
        if done.stderr:
            self.out.write(done.stderr if done.stderr.endswith("\n") else done.stderr + "\n")
        self.out.flush()
        if done.returncode != expect:
            raise _StepFailed(f"'{shlex.join(shown)}' exited {done.returncode}, expected {expect}")
        return done

    def cases(self, *args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
        return self.run(["cases", *args], [sys.executable, "-m", "casebank", *args], expect=expect)

    def edit(self, relative: Path, old: str, new: str) -> None:
        """Replace `old` by `new` in a copied source file, and print the change as a diff."""
        path = self.folder / relative
        before = path.read_text(encoding="utf-8")
        if before.count(old) != 1:
            raise _StepFailed(f"cannot edit '{relative}': expected exactly one {old.strip()!r} in it")
        after = before.replace(old, new)
        path.write_text(after, encoding="utf-8")
        self.write(f"$ $EDITOR {relative}")
        diff = difflib.unified_diff(
            before.splitlines(), after.splitlines(), f"a/{relative}", f"b/{relative}", n=0, lineterm=""
        )
        for line in diff:
            self.write(line)


def run_demo(
    *, keep: bool = False, out: TextIO | None = None, source: Path | None = None, parent: Path | None = None
) -> int:
    """Run the demo in a fresh temporary folder; 0 when every step behaved as expected, else 1.

    `source` is the example bot's folder (default: the bundled one); `parent` is where the
    temporary folder is made (default: the system's temporary folder).
    """
    stream = out if out is not None else sys.stdout
    if importlib.util.find_spec("openai") is None:
        stream.write(
            "demo failed: the example bot calls its model through the openai package - pip install 'casebank[demo]'\n"
        )
        return 1
    folder = Path(tempfile.mkdtemp(prefix="casebank-demo-", dir=parent))
    session = _Session(folder, stream)
    try:
        _script(session, source if source is not None else example_source())
    except (_StepFailed, OSError) as exc:
        session.write()
        session.write(f"demo failed: {exc}")
        session.write(f"the demo folder is kept for a look: {folder}")
        return 1
    if keep:
        session.write()
        session.write(f"The demo folder is kept: cd {shlex.quote(str(folder))} and try 'cases list --status all'.")
    else:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


def _script(s: _Session, source: Path) -> None:
    shutil.copytree(
        source,
        s.folder / "support_bot",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "tickets.jsonl", "policies.json"),
    )
    shutil.copyfile(source / "tickets.jsonl", s.folder / "tickets.jsonl")
    shutil.copyfile(source / "policies.json", s.folder / POLICIES)
    s.write("casebank demo: capture, flag, annotate, promote and replay, for real, on a small support bot.")
    s.write(f"Working in a fresh folder holding a copy of the bot and its tickets: {s.folder}")
    s.write("The bot calls its model through the real openai client; the model is a deterministic local")
    s.write("stand-in server on 127.0.0.1, so there is no network and no key. casebank.init() instruments the client.")
    s.write("Lines starting with $ are the commands, exactly as you would type them; below each is its output.")

    answers = _answer_tickets(s)
    wrong = _find_wrong_answer(answers)
    incident_id = _flag(s, wrong)

    s.heading("3. An engineer looks at the incident: the input, the bad output, the spans")
    s.cases("show", incident_id)

    s.heading("4. ...and records what the answer must say, and how to check it")
    s.note("The bot asked its policy service (lookup_policy, a @casebank.tool) about returns; that day it")
    s.note("had no rule, so the bot quoted its own fact. --frozen-tools: replays get that same answer.")
    s.cases(
        "annotate", incident_id, "--expected", _EXPECTED, "--grader", "contains", "--tag", "refunds", "--frozen-tools"
    )

    case_path = _promote(s, incident_id)

    s.heading("6. Fix the bot; the suite passes")
    s.note("The refund fact in the bot's knowledge was wrong.")
    s.edit(KNOWLEDGE, _BUGGY_FACT, _FIXED_FACT)
    s.cases("run")
    s.note(f"Exit code 0: every case passes. Commit the fix together with {case_path}.")

    _service_changes(s, incident_id)

    s.heading("8. Weeks later, a change brings the bug back; the suite catches it")
    s.note("Someone adds a fact about exchanges. Retrieval now prefers it for the refund ticket,")
    s.note("so the customer is told about 30 days again.")
    fixed_line = _line_with(s.folder / KNOWLEDGE, _FIXED_FACT)
    s.edit(KNOWLEDGE, fixed_line, fixed_line + _EXCHANGES_FACT)
    failed = s.cases("run", expect=1)
    if incident_id not in failed.stdout + failed.stderr:
        raise _StepFailed(f"'cases run' failed as expected but did not name the case {incident_id}")
    s.note(f"Exit code 1, naming case {incident_id}: in CI, this change does not merge.")

    s.heading("9. What the store holds now")
    s.cases("status")
    s.write()
    s.write("Every step behaved as expected.")


def _service_changes(s: _Session, incident_id: str) -> None:
    s.heading("7. The policy service changes; the case still tests the code, not the service")
    s.note("The case file's fixtures hold what lookup_policy returned in production (null: no rule).")
    s.note("Today the service adds a holiday rule for returns, which the live bot now quotes instead.")
    s.edit(POLICIES, _POLICY_DELIVERY, _POLICY_DELIVERY.rstrip("\n") + ",\n" + _POLICY_RETURNS)
    s.cases("run")
    s.note("Exit code 0: replayed frozen, the lookup answers as it did that day; the code is still right.")
    drifted = s.cases("run", "--live-tools", expect=1)
    if incident_id not in drifted.stdout + drifted.stderr:
        raise _StepFailed(f"'cases run --live-tools' failed as expected but did not name the case {incident_id}")
    s.note("Exit code 1 with the same code: a live replay tests today's service (the drift), a frozen one")
    s.note("tests the change under review. CI runs frozen; run --live-tools to see what the world changed.")


def _line_with(path: Path, text: str) -> str:
    for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
        if text in line:
            return line
    raise _StepFailed(f"no line of '{path}' holds {text!r}")


def _answer_tickets(s: _Session) -> list[dict[str, Any]]:
    s.heading("1. The bot answers a batch of tickets")
    s.note("support_bot/__main__.py calls casebank.init() once; bot.answer() is decorated with @casebank.trace,")
    s.note("so each answer is recorded as a trace, and the bot hands back its trace id with the answer.")
    s.note("A rule from the policy service (support_bot/policies.py: lookup_policy, a @casebank.tool")
    s.note("reading policies.json) wins over the bot's built-in fact: see the delivery answer.")
    done = s.run(
        ["python", "-m", "support_bot", "tickets.jsonl"], [sys.executable, "-m", "support_bot", "tickets.jsonl"]
    )
    try:
        answers = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    except json.JSONDecodeError as exc:
        raise _StepFailed(f"the bot printed a line that is not JSON ({exc})") from None
    if not answers or not all(isinstance(a, dict) and a.get("trace_id") for a in answers):
        raise _StepFailed("the bot did not print a trace id with every answer - is casebank.init() working?")
    return answers


def _find_wrong_answer(answers: list[dict[str, Any]]) -> dict[str, Any]:
    for answer in answers:
        if "refund" in str(answer.get("ticket")) and "30 days" in str(answer.get("answer")):
            return answer
    raise _StepFailed("no answer quoted the wrong refund window - the example bot did not reproduce its bug")


def _flag(s: _Session, wrong: dict[str, Any]) -> str:
    s.heading("2. One answer is wrong: support flags it by its trace id")
    s.note(f"Ticket: {wrong['ticket']}")
    s.note("The bot said refunds are accepted within 30 days of delivery. The policy is 14 days.")
    s.note("(From support tooling, the same is casebank.flag(trace_id, reason).)")
    reason = "quoted a 30-day refund window; the policy is 14 days"
    done = s.cases("flag", str(wrong["trace_id"]), "--reason", reason, "--by", "support")
    incident_id = done.stdout.strip()
    if not incident_id or len(incident_id.split()) != 1:
        raise _StepFailed(f"'cases flag' printed {done.stdout!r}, not an incident id")
    return incident_id


def _promote(s: _Session, incident_id: str) -> str:
    s.heading("5. Promote: the incident becomes a frozen case file in evals/")
    s.note("Before writing, promote checks the grader passes the expected output and fails the bad one.")
    done = s.cases("promote", incident_id)
    lines = done.stdout.strip().splitlines()
    case_path = lines[-1].strip() if lines else ""
    if not case_path or not (s.folder / case_path).is_file():
        raise _StepFailed(f"'cases promote' printed {done.stdout!r}, not the path of a case file")
    s.write(f"$ cat {shlex.quote(case_path)}")
    s.out.write((s.folder / case_path).read_text(encoding="utf-8"))
    return case_path
