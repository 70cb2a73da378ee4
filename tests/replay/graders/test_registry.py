"""The grader registry: built-ins loaded when first asked for, entry points, import paths `module:name`.

Entry points are found the way they are in production: a `*.dist-info` folder with an
`entry_points.txt`, on `sys.path`, read by `importlib.metadata` (nothing is mocked); a fresh
`Registry` is made for each such test, since the shared one reads the entry points once.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from casebank.errors import InvalidInput
from casebank.replay.graders import GRADERS, Grader, Verdict, grade_safely, make_grader, register
from casebank.replay.graders._registry import BUILTIN, Registry, registry
from tests.cli.conftest import PROJECT_ROOT

MODULE = '''
from casebank.replay.graders import Grader, Number, Verdict


class Tone(Grader):
    """The output thanks the customer."""

    name = "tone"
    minimum = Number(1.0, help="how many thanks it needs")

    def grade(self, output, expected):
        thanks = output.lower().count("thank")
        return Verdict(passed=thanks >= self.minimum, score=None, reason=f"{thanks} thanks")


def polite(output, expected):
    """The output says please."""
    return 0.9 if "please" in output else 0.1


def one_argument(output):
    return True


class NotAGrader:
    pass


class Holder:
    class Strict(Tone):
        """Nested: found by its dotted name."""

    @staticmethod
    def polite(output, expected):
        return "please" in output


NUMBER = 7
'''


@pytest.fixture
def module(tmp_path: Path) -> Iterator[str]:
    """A module of graders in the current folder (tmp_path), named afresh for each test."""
    name = f"team_graders_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(MODULE))
    yield name
    sys.modules.pop(name, None)


def test_importing_the_graders_loads_no_grader_module_and_building_one_loads_only_its_own() -> None:
    code = (
        "import sys\n"
        "import casebank.replay.graders as g\n"
        "home = 'casebank.replay.graders._'\n"
        "loaded = lambda: sorted(m.rsplit('.', 1)[1] for m in sys.modules if m.startswith(home))\n"
        "print(loaded())\n"
        "g.make_grader({'name': 'exact'})\n"
        "print(loaded())\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=PROJECT_ROOT, timeout=60
    )
    assert proc.stdout.splitlines() == [
        "['_base', '_options', '_registry', '_replay']",  # _replay: the Replay a span grader reads
        "['_base', '_options', '_registry', '_replay', '_text']",
    ]


def test_the_built_ins_are_listed_in_their_order_and_graders_is_a_view_of_the_registry() -> None:
    assert list(GRADERS)[: len(BUILTIN)] == list(BUILTIN)
    assert GRADERS["exact"].name == "exact" and len(GRADERS) >= len(BUILTIN)
    assert "nope" not in GRADERS
    with pytest.raises(KeyError):
        GRADERS["nope"]


def test_register_makes_a_grader_findable_by_its_name_in_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    # Undone afterwards: a test that walks every grader (test_options) must not meet this one.
    monkeypatch.setattr(registry, "_classes", dict(registry._classes))

    @register
    class Shouting(Grader):
        name = f"shouting_{uuid.uuid4().hex[:6]}"

        def grade(self, output: Any, expected: Any) -> Verdict:
            return Verdict(passed=not str(output).isupper())

    assert make_grader({"name": Shouting.name}).grade("QUIET", None).passed is False
    assert Shouting.name in GRADERS


def test_an_unknown_name_lists_every_grader_and_the_import_path_form() -> None:
    with pytest.raises(InvalidInput) as raised:
        make_grader({"name": "judge"})
    message = str(raised.value)
    assert message.startswith("unknown grader 'judge' - choose one of: all, any, contains, ")
    assert message.endswith("; or give MODULE:NAME of your own (e.g. --grader my_pkg.graders:tone)")


# -- import paths ----------------------------------------------------------------------------------


def test_a_grader_class_by_import_path_is_frozen_by_that_reference(module: str) -> None:
    grader = make_grader({"name": f"{module}:Tone", "options": {"minimum": 2}})
    assert grader.spec() == {"name": f"{module}:Tone", "options": {"minimum": 2}}
    assert grader.grade("Thank you, thanks!", None) == Verdict(passed=True, reason="2 thanks")
    assert not grader.grade("Thank you", None).passed
    assert type(grader).__name__ == "Tone" and type(grader).summary == "The output thanks the customer."
    assert make_grader(grader.spec()).spec() == grader.spec()
    with pytest.raises(InvalidInput, match=f"grader '{module}:Tone' option minimum='-1' - use a number >= 0"):
        make_grader({"name": f"{module}:Tone", "options": {"minimum": -1}})


def test_a_plain_function_by_import_path_grades_with_a_threshold(module: str) -> None:
    grader = make_grader({"name": f"{module}:polite"})
    assert grader.spec() == {"name": f"{module}:polite", "options": {}}
    assert grader.grade("please wait", None) == Verdict(
        passed=True, score=0.9, reason=f"{module}:polite scored 0.9, at or above 0.5"
    )
    assert not make_grader({"name": f"{module}:polite", "options": {"threshold": 0.95}}).grade("please", None).passed
    assert type(grader).summary == "The output says please."
    with pytest.raises(InvalidInput, match=f"grader '{module}:polite' has no option 'minimum'"):
        make_grader({"name": f"{module}:polite", "options": {"minimum": 1}})


@pytest.mark.parametrize(
    ("attribute", "message"),
    [
        pytest.param(
            "missing",
            "grader '{m}:missing' cannot be imported: '{m}' has no attribute 'missing' - check the name",
            id="no-attribute",
        ),
        pytest.param(
            "NotAGrader",
            "grader '{m}:NotAGrader' is a class, not a casebank Grader subclass or a function of (output, expected)",
            id="a-class",
        ),
        pytest.param(
            "NUMBER",
            "grader '{m}:NUMBER' is an int, not a casebank Grader subclass or a function of (output, expected)",
            id="not-callable",
        ),
        pytest.param(
            "one_argument",
            "grader '{m}:one_argument' is a function that does not take (output, expected) - fix its signature",
            id="wrong-signature",
        ),
    ],
)
def test_an_import_path_that_is_no_grader_is_refused_in_one_line(module: str, attribute: str, message: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        make_grader({"name": f"{module}:{attribute}"})
    assert str(raised.value).startswith(message.format(m=module))


@pytest.mark.parametrize(
    ("name", "message"),
    [
        pytest.param(
            "no_such_module_xyz:tone",
            "grader 'no_such_module_xyz:tone' cannot be imported: ModuleNotFoundError: No module named "
            "'no_such_module_xyz' - install the package that has it, or run from the folder that holds the module",
            id="no-module",
        ),
        pytest.param("my-pkg:tone", "grader 'my-pkg:tone' is not MODULE:NAME (e.g. --grader", id="malformed"),
        pytest.param("pkg:", "grader 'pkg:' is not MODULE:NAME", id="no-name"),
    ],
)
def test_an_import_path_that_does_not_import_is_refused_in_one_line(name: str, message: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        make_grader({"name": name})
    assert str(raised.value).startswith(message) and "\n" not in str(raised.value)


def test_a_function_grader_that_crashes_is_a_failed_verdict(module: str, tmp_path: Path) -> None:
    (tmp_path / f"{module}_broken.py").write_text("def total(output, expected):\n    raise KeyError('total')\n")
    try:
        verdict = grade_safely(make_grader({"name": f"{module}_broken:total"}), "x", None)
    finally:
        sys.modules.pop(f"{module}_broken", None)
    assert verdict.reason == f"grader '{module}_broken:total' crashed: KeyError: 'total'"


# -- entry points ----------------------------------------------------------------------------------


def install(site: Path, package: str, entry_points: dict[str, str], source: str = MODULE) -> None:
    """A distribution as pip leaves it: the package, and a dist-info folder with its entry points."""
    (site / package).mkdir(parents=True)
    (site / package / "__init__.py").write_text(textwrap.dedent(source))
    info = site / f"{package}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package.replace('_', '-')}\nVersion: 0.1\n")
    lines = "".join(f"{name} = {target}\n" for name, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[casebank.graders]\n{lines}")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    yield folder
    for name in [m for m in sys.modules if m.startswith("plugin_")]:
        del sys.modules[name]


def test_an_entry_point_names_a_grader_class_or_function(site: Path) -> None:
    package = f"plugin_{uuid.uuid4().hex[:8]}"
    install(
        site,
        package,
        {
            "tone": f"{package}:Tone",
            "polite": f"{package}:polite",
            "exact": f"{package}:Tone",  # a built-in's name stays casebank's
            "broken": "plugin_not_installed_xyz:Tone",
        },
    )
    found = Registry(BUILTIN)
    assert found.names()[len(BUILTIN) :] == ["broken", "polite", "tone"]
    tone = found.get("tone")
    assert tone.name == "tone" and tone({"minimum": 2}).spec() == {"name": "tone", "options": {"minimum": 2}}
    assert found.get("polite")({}).grade("please", None).passed
    assert found.get("exact").__module__ == "casebank.replay.graders._text"
    with pytest.raises(InvalidInput) as raised:
        found.get("broken")
    assert str(raised.value) == (
        f"grader 'broken' (entry point 'plugin_not_installed_xyz:Tone' of {package.replace('_', '-')}) cannot be "
        "loaded: ModuleNotFoundError: No module named 'plugin_not_installed_xyz' - reinstall or fix that package"
    )
    listing = dict(found.listing())
    assert listing["tone"] is tone and isinstance(listing["broken"], str)
    assert tone is sys.modules[package].Tone  # named as its entry point: the plug-in's class as it is


def test_the_entry_points_are_read_once_and_only_when_a_name_is_unknown(site: Path) -> None:
    found = Registry(BUILTIN)
    found.get("exact")
    assert found._plugins is None  # a built-in never scans the installed distributions
    assert "tone" not in found.names()  # read now: nothing installed yet
    package = f"plugin_{uuid.uuid4().hex[:8]}"
    install(site, package, {"tone": f"{package}:Tone"})
    assert "tone" not in found.names()  # installed after the first read: seen by the next process
    assert "tone" in Registry(BUILTIN).names()


def test_the_shared_registry_knows_every_built_in() -> None:
    assert [name for name, _ in registry.listing()][: len(BUILTIN)] == list(BUILTIN)


def test_an_import_path_is_resolved_once_and_kept_out_of_the_names(module: str) -> None:
    found = Registry(BUILTIN)
    first = found.reference(f"{module}:Tone")
    assert found.reference(f"{module}:Tone") is first
    assert (first.__name__, first.__qualname__, first.__module__) == ("Tone", "Tone", module)
    assert found.names() == list(BUILTIN)  # `module:name` is no name to list


def test_a_nested_class_or_function_is_found_by_its_dotted_path(module: str) -> None:
    strict = make_grader({"name": f"{module}:Holder.Strict"})
    assert (type(strict).__qualname__, type(strict).summary) == ("Holder.Strict", "Nested: found by its dotted name.")
    assert make_grader({"name": f"{module}:Holder.polite"}).grade("please", None).passed


def test_a_module_that_fails_without_a_message_is_named_by_its_error(module: str, tmp_path: Path) -> None:
    (tmp_path / f"{module}_quiet.py").write_text("raise RuntimeError()\n")
    try:
        with pytest.raises(InvalidInput) as raised:
            make_grader({"name": f"{module}_quiet:tone"})
    finally:
        sys.modules.pop(f"{module}_quiet", None)
    assert str(raised.value) == (
        f"grader '{module}_quiet:tone' cannot be imported: RuntimeError - install the package that has it, or run "
        "from the folder that holds the module (it is put on the import path)"
    )


def test_graders_has_no_unknown_name() -> None:
    with pytest.raises(KeyError) as raised:
        GRADERS["nope"]
    assert raised.value.args == ("nope",)
