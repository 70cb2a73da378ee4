"""The report-format registry: casebank's own formats, and a team's own from a real installed package.

A plug-in here is a real distribution (a module and its `.dist-info` with `entry_points.txt`) in
a folder put on `sys.path`, found by the real `importlib.metadata`; tests/cli/test_runs.py runs
one under the real `cases` command.
"""

from __future__ import annotations

import sys
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

from casebank.errors import InvalidInput
from casebank.replay import report_json, to_junit, to_markdown
from casebank.replay._report_formats import BUILTIN_FORMATS, ENTRY_POINT_GROUP, format_names, get_format
from casebank.replay._report_html import render_run_html
from casebank.replay._report_table import TEXT_WIDTH
from tests.replay.test_report import report, result

# A team's package: a format with a suffix and a help line, one that returns no text, one that
# claims `json`, one that names a number; and entry points to a module and a name that do not exist.
PLUGIN_SOURCE = '''
def csv_report(report):
    """one line a case: id, status"""
    return "".join(f"{r.case_id},{r.status}\\n" for r in report.results)

csv_report.suffix = ".csv"

def count(report):
    return {"cases": report.total}

def not_json(report):
    return "not the built-in json"

THREE = 3
'''


@dataclass(kw_only=True)
class Plugin:
    site: Path  # the folder to put on sys.path / PYTHONPATH
    module: str


def install_plugin(site: Path, module: str, source: str, entry_points: dict[str, str]) -> Plugin:
    """A distribution as pip leaves it in site-packages: the module, and its .dist-info with the entry points."""
    site.mkdir(parents=True, exist_ok=True)
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    info = site / f"{module}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 0.1\n")
    lines = "".join(f"{name} = {target}\n" for name, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n{lines}")
    return Plugin(site=site, module=module)


def team_plugin(site: Path, module: str) -> Plugin:
    return install_plugin(
        site,
        module,
        PLUGIN_SOURCE,
        {
            "csv": f"{module}:csv_report",
            "count": f"{module}:count",
            "json": f"{module}:not_json",
            "three": f"{module}:THREE",
            "broken": f"{module}_missing:render",
            "missing": f"{module}:nothing_by_this_name",
        },
    )


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Plugin]:
    installed = team_plugin(tmp_path / "site", f"team_reports_{uuid.uuid4().hex[:8]}")
    monkeypatch.syspath_prepend(str(installed.site))
    yield installed
    sys.modules.pop(installed.module, None)


RUN = report(result("c1", "passed"), result("c2", "failed"))


def test_casebank_s_own_formats_come_in_this_order_and_render_as_their_modules_do() -> None:
    assert format_names() == ["table", "json", "junit", "markdown", "html"]
    assert [(f.name, f.suffix) for f in BUILTIN_FORMATS.values()] == [
        ("table", ".txt"),
        ("json", ".json"),
        ("junit", ".xml"),
        ("markdown", ".md"),
        ("html", ".html"),
    ]
    assert get_format("json").render(RUN) == report_json(RUN)
    assert get_format("junit").render(RUN) == to_junit(RUN)
    assert get_format("markdown").render(RUN) == to_markdown(RUN)
    assert get_format("html").render(RUN) == render_run_html(RUN)
    assert [name for name, f in BUILTIN_FORMATS.items() if f.show is not None] == ["table"]


def test_the_table_as_text_is_the_terminal_table_without_colour() -> None:
    text = get_format("table").render(RUN)

    assert "1 of 2 cases did not pass" in text and "1/2 passed (50.0%) - 1 failed\n" in text
    assert "\x1b[" not in text
    assert max(len(line) for line in text.splitlines()) <= TEXT_WIDTH


def test_an_unknown_format_is_a_usage_error_naming_every_format() -> None:
    with pytest.raises(
        InvalidInput, match=r"^--format 'pdf' is not one of table, json, junit, markdown, html - pick one$"
    ):
        get_format("pdf")


def test_a_team_s_format_is_found_by_its_entry_point_and_renders_the_run(plugin: Plugin) -> None:
    assert plugin.module not in sys.modules  # listing the names imports no plug-in
    assert format_names() == [
        "table",
        "json",
        "junit",
        "markdown",
        "html",
        "csv",
        "count",
        "three",
        "broken",
        "missing",
    ]
    assert plugin.module not in sys.modules

    csv = get_format("csv")

    assert (csv.suffix, csv.help) == (".csv", "one line a case: id, status")
    assert csv.render(RUN) == "c1,passed\nc2,failed\n"


def test_a_plug_in_cannot_replace_a_built_in_format(plugin: Plugin) -> None:
    assert orjson.loads(get_format("json").render(RUN))["id"] == RUN.id


@pytest.mark.parametrize(
    ("name", "message"),
    [
        pytest.param(
            "broken",
            r"^report format 'broken' \(team_reports_\w+_missing:render in entry point group casebank\.reports\) "
            r"cannot be loaded: ModuleNotFoundError: .* - fix or uninstall the package that provides it$",
            id="does-not-import",
        ),
        pytest.param(
            "missing",
            r"^report format 'missing' \(.*\) cannot be loaded: AttributeError: .*",
            id="names-nothing",
        ),
        pytest.param(
            "three",
            r"^report format 'three' \(team_reports_\w+:THREE in entry point group casebank\.reports\) is an object of "
            r"type int, not a function of a run - name a callable that takes a RunReport and returns text$",
            id="not-a-function",
        ),
    ],
)
def test_a_plug_in_that_cannot_be_loaded_or_is_no_function_is_a_usage_error_naming_its_entry_point(
    plugin: Plugin, name: str, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        get_format(name)


def test_a_plug_in_that_returns_no_text_is_refused_and_a_plain_function_gets_a_default_suffix_and_help(
    plugin: Plugin,
) -> None:
    count = get_format("count")

    assert (count.suffix, count.help) == (".count", "the run as count")
    with pytest.raises(InvalidInput, match=r"^report format 'count' \(.*\) returned dict, not text - return a str$"):
        count.render(RUN)
