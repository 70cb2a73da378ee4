"""The project configuration as read from real files: where it is found, what wins, what is refused."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from casebank.errors import InvalidInput
from casebank.replay._compare import FAIL_ON as GATES
from casebank.replay._config import FAIL_ON, KEYS, ProjectConfig, find_config, load_config
from casebank.replay._runner import DEFAULT_CONCURRENCY
from casebank.replay._suite import DEFAULT_SUITE

FULL = """
[project]
name = "invoice-app"

[tool.casebank]
suite = "qa/cases"
db = "store/cases.db"
concurrency = 16
timeout = 30
epochs = 3
fail_on = "regression"
frozen_tools = true
pytest = true
retention_days = 30
redact = ["email", "pii"]

[tool.casebank.factories]
"invoice_app.bot:Bot" = "invoice_app.bot:make_bot"
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def test_without_a_file_every_setting_is_the_default(tmp_path: Path) -> None:
    config = load_config(tmp_path, env={})

    assert config == ProjectConfig()
    assert {key: config.source(key) for key in KEYS} == dict.fromkeys(KEYS, "default")
    # The defaults are the ones the runner and `cases run` use without a file.
    assert (config.suite, config.concurrency, FAIL_ON) == (DEFAULT_SUITE, DEFAULT_CONCURRENCY, GATES)


def test_every_key_of_a_pyproject_table_is_read_and_typed(tmp_path: Path) -> None:
    pyproject = write(tmp_path / "pyproject.toml", FULL)

    config = load_config(tmp_path, env={})

    assert config.file == pyproject
    assert (config.suite, config.db) == (Path("qa/cases"), str(Path("store/cases.db")))
    assert (config.concurrency, config.timeout, config.epochs, config.fail_on) == (16, 30.0, 3, "regression")
    assert (config.frozen_tools, config.pytest, config.retention_days) == (True, True, 30)
    assert config.factories == {"invoice_app.bot:Bot": "invoice_app.bot:make_bot"}
    assert config.redact == ["email", "pii"]
    assert {config.source(key) for key in KEYS} == {str(pyproject)}


def test_the_file_is_found_from_a_subfolder_and_its_paths_are_relative_to_it(tmp_path: Path) -> None:
    pyproject = write(tmp_path / "pyproject.toml", FULL)
    below = tmp_path / "src" / "invoice_app"
    below.mkdir(parents=True)

    config = load_config(below, env={})

    assert config.file == pyproject
    assert config.suite == tmp_path / "qa" / "cases"  # not below/qa/cases: where the file says
    assert config.db == str(tmp_path / "store" / "cases.db")


def test_a_pyproject_without_the_table_is_passed_over_for_one_further_up(tmp_path: Path) -> None:
    top = write(tmp_path / "pyproject.toml", FULL)
    write(tmp_path / "packages" / "bot" / "pyproject.toml", '[project]\nname = "bot"\n[tool.ruff]\nline-length = 99\n')

    assert find_config(tmp_path / "packages" / "bot") == top


def test_the_nearest_file_wins_and_a_casebank_toml_takes_top_level_keys(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", FULL)
    own = write(tmp_path / "service" / "casebank.toml", 'suite = "evals"\nconcurrency = 2\n')

    config = load_config(tmp_path / "service", env={})

    assert (config.file, config.suite, config.concurrency, config.epochs) == (own, Path("evals"), 2, 1)
    assert (config.source("concurrency"), config.source("epochs")) == (str(own), "default")


def test_casebank_db_wins_over_the_file_and_a_flag_over_both(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", FULL)

    from_env = load_config(tmp_path, env={"CASEBANK_DB": "/srv/cb.db"})
    flagged = from_env.with_flags(db="flag.db", suite="other", concurrency=None)

    assert (from_env.db, from_env.source("db")) == ("/srv/cb.db", "env CASEBANK_DB")
    assert (flagged.db, flagged.source("db")) == ("flag.db", "flag --db")
    assert (flagged.suite, flagged.source("suite")) == (Path("other"), "flag --suite")
    assert (flagged.concurrency, flagged.source("concurrency")) == (16, str(tmp_path / "pyproject.toml"))


def test_a_store_url_in_the_file_is_used_as_written(tmp_path: Path) -> None:
    write(tmp_path / "casebank.toml", 'db = "sqlite:///shared/cases.db"\n')
    assert load_config(tmp_path, env={}).db == "sqlite:///shared/cases.db"


def test_both_files_in_one_folder_are_refused_naming_both(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", FULL)
    write(tmp_path / "casebank.toml", "concurrency = 2\n")

    with pytest.raises(InvalidInput) as raised:
        load_config(tmp_path, env={})

    assert str(raised.value) == (
        f"both '{tmp_path / 'casebank.toml'}' and [tool.casebank] in '{tmp_path / 'pyproject.toml'}' "
        "configure casebank - keep one of them"
    )


@pytest.mark.parametrize(
    ("table", "message"),
    [
        pytest.param(
            "concurency = 4",
            "unknown key 'concurency' - did you mean 'concurrency'? valid keys: suite, db, concurrency, timeout, "
            "epochs, fail_on, frozen_tools, factories, pytest, retention_days, redact",
            id="unknown-key",
        ),
        pytest.param(
            'concurrency = "16"',
            'concurrency = "16" is not a whole number of at least 1 - for example: concurrency = 16',
            id="a-string-for-a-number",
        ),
        pytest.param("concurrency = 0", "concurrency = 0 is not a whole number of at least 1", id="zero"),
        pytest.param("epochs = 1.5", "epochs = 1.5 is not a whole number of at least 1", id="a-fraction"),
        pytest.param("timeout = -1", "timeout = -1 is not a positive number of seconds", id="negative-timeout"),
        pytest.param("timeout = true", "timeout = true is not a positive number of seconds", id="a-bool-for-seconds"),
        pytest.param(
            'fail_on = "sometimes"',
            'fail_on = "sometimes" is not one of "any", "regression", "significant"',
            id="unknown-gate",
        ),
        pytest.param('frozen_tools = "yes"', 'frozen_tools = "yes" is not true or false', id="a-string-for-a-bool"),
        pytest.param("pytest = 1", "pytest = 1 is not true or false", id="a-number-for-a-bool"),
        pytest.param('suite = ""', 'suite = "" is not a folder path', id="empty-suite"),
        pytest.param(
            "factories = 3",
            'factories = 3 is not a table of "module:Class" = "module:function"',
            id="factories-not-a-table",
        ),
        pytest.param(
            'factories = { "Bot" = "bot:make" }', "factories key 'Bot' is not MODULE:NAME", id="factory-key-no-module"
        ),
        pytest.param(
            'factories = { "bot:Bot" = "make bot" }',
            "factories value 'make bot' is not MODULE:NAME",
            id="factory-value-not-a-path",
        ),
        pytest.param(
            'redact = ["email", "emial"]',
            'redact = an array is not a list of "email", "phone", "card", "iban", "pii" - for example: '
            'redact = ["email", "phone"]',
            id="unknown-redactor",
        ),
        pytest.param(
            'factories = { "bot:Bot" = 3 }', 'factories = a table is not a table of "module:Class"', id="factory-int"
        ),
    ],
)
def test_a_wrong_key_or_value_is_one_line_naming_the_file_the_key_and_what_is_valid(
    tmp_path: Path, table: str, message: str
) -> None:
    write(tmp_path / "pyproject.toml", f"[tool.casebank]\n{table}\n")

    with pytest.raises(InvalidInput) as raised:
        load_config(tmp_path, env={})

    text = str(raised.value)
    assert text.startswith(f"'{tmp_path / 'pyproject.toml'}' [tool.casebank]: {message}"), text
    assert "\n" not in text


def test_a_file_that_is_not_toml_is_refused_naming_it(tmp_path: Path) -> None:
    write(tmp_path / "casebank.toml", "concurrency = \n")
    with pytest.raises(InvalidInput, match=r"casebank.toml' is not valid TOML \(.*line 1.*\) - fix the file"):
        load_config(tmp_path, env={})


def test_a_tool_casebank_that_is_not_a_table_is_refused(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", '[tool]\ncasebank = "evals"\n')
    with pytest.raises(InvalidInput, match=r"tool.casebank is not a table - write a \[tool.casebank\] section"):
        load_config(tmp_path, env={})


def test_flags_that_are_not_keys_are_a_programming_error() -> None:
    with pytest.raises(TypeError, match="not configuration keys: suit"):
        ProjectConfig().with_flags(suit="evals")


def test_the_config_as_json_says_each_value_and_where_it_came_from(tmp_path: Path) -> None:
    write(tmp_path / "casebank.toml", "epochs = 2\n")

    shown = load_config(tmp_path, env={}).with_flags(concurrency=4).as_dict()

    assert shown["file"] == str(tmp_path / "casebank.toml")
    assert shown["settings"]["epochs"] == {"value": 2, "source": str(tmp_path / "casebank.toml")}
    assert shown["settings"]["concurrency"] == {"value": 4, "source": "flag --concurrency"}
    assert shown["settings"]["suite"] == {"value": "evals", "source": "default"}
    assert shown["settings"]["factories"] == {"value": {}, "source": "default"}
