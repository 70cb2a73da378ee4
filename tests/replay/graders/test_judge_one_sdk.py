"""The judge where only one provider SDK is installed (issue 13: `_api_errors()` imported both).

Each test runs a real `llm_judge` grade in a child interpreter whose packages are this
environment's minus one SDK: started with `-S`, its only packages are a folder of links to every
entry of our site-packages except that SDK's, so `import anthropic` fails and `find_spec` finds
nothing, as where it was never installed. The judge calls the fake server on 127.0.0.1 through
the real client of the SDK that is there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import PROJECT_ROOT
from tests.fakes_openai_compat import FakeCompat

RUBRIC = 'The answer must mention "30 days".'

GRADE = """
import importlib, importlib.util, json, sys
missing = sys.argv[1]
try:
    importlib.import_module(missing)
    really_missing = False
except ModuleNotFoundError:
    really_missing = importlib.util.find_spec(missing) is None
from casebank.errors import InvalidInput
from casebank.replay.graders import make_grader
try:
    grader = make_grader(json.loads(sys.argv[2]))
except InvalidInput as exc:
    print(json.dumps({"really_missing": really_missing, "refused": str(exc)}))
    raise SystemExit(0)
verdict = grader.grade(sys.argv[3], None)
print(json.dumps({"really_missing": really_missing, "passed": verdict.passed, "reason": verdict.reason}))
"""


def site_without(tmp_path: Path, missing: str) -> Path:
    """A folder of links to every installed package but `missing` (its module and its metadata)."""
    folder = tmp_path / f"site-without-{missing}"
    if folder.is_dir():
        return folder
    folder.mkdir()
    site = Path(sysconfig.get_paths()["purelib"])
    for entry in site.iterdir():
        if entry.name.split("-")[0].split(".")[0].lower() != missing:
            (folder / entry.name).symlink_to(entry)
    return folder


def grade_without(tmp_path: Path, missing: str, spec: dict[str, Any], output: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "ANTHROPIC_", "PYTHON"))}
    env["PYTHONPATH"] = os.pathsep.join([str(site_without(tmp_path, missing)), str(PROJECT_ROOT)])
    if spec["options"].get("provider") == "anthropic":
        env["ANTHROPIC_API_KEY"] = "sk-ant-test"
    proc = subprocess.run(
        [sys.executable, "-S", "-c", GRADE, missing, json.dumps(spec), output],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout)
    assert result.pop("really_missing") is True  # the child truly lacks that SDK
    return result


def spec(fake: FakeCompat, provider: str) -> dict[str, Any]:
    url = fake.openai_url if provider == "openai" else fake.url
    return {
        "name": "llm_judge",
        "options": {"rubric": RUBRIC, "model": "judge-1", "provider": provider, "base_url": url},
    }


WITHOUT_THE_OTHER = [
    pytest.param("openai", "anthropic", id="openai-without-anthropic"),
    pytest.param("anthropic", "openai", id="anthropic-without-openai"),
]


@pytest.mark.parametrize(("provider", "missing"), WITHOUT_THE_OTHER)
def test_a_judge_runs_with_only_its_own_sdk_installed(
    fake: FakeCompat, tmp_path: Path, provider: str, missing: str
) -> None:
    good = grade_without(tmp_path, missing, spec(fake, provider), "Refunds within 30 days.")
    assert good == {
        "passed": True,
        "reason": "judge said PASS, score 1.00: the output mentions everything the rubric asks for",
    }
    bad = grade_without(tmp_path, missing, spec(fake, provider), "Refunds within 14 days.")
    assert bad["passed"] is False and "does not mention '30 days'" in bad["reason"]


@pytest.mark.parametrize(("provider", "missing"), WITHOUT_THE_OTHER)
def test_a_failing_call_is_a_failed_verdict_naming_the_problem_not_a_missing_module(
    fake: FakeCompat, tmp_path: Path, provider: str, missing: str
) -> None:
    fake.fail_status = 401
    result = grade_without(tmp_path, missing, spec(fake, provider), "Refunds within 30 days.")
    assert result["passed"] is False
    assert result["reason"].startswith(f"judge {provider}:judge-1 call failed: AuthenticationError")
    assert result["reason"].endswith("check model, base_url and the API key")
    assert "ModuleNotFoundError" not in result["reason"]


def test_a_provider_whose_sdk_is_missing_is_refused_when_the_grader_is_built(fake: FakeCompat, tmp_path: Path) -> None:
    result = grade_without(tmp_path, "anthropic", spec(fake, "anthropic"), "x")
    assert result == {
        "refused": "grader 'llm_judge' provider anthropic needs the anthropic package - pip install anthropic"
    }
