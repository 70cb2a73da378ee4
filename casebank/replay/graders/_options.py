"""A grader's options, declared once on its class: habit 4c, "a grader's options are its fields".

    class Numeric(Grader):
        abs = Number(0.0, help="absolute tolerance", placeholder="N")

Each declaration knows its option name, its type, its default and a one-line help. When a grader
is built, `Grader.__init__` reads every declared option from the spec's `options` through its
declaration - parsing the text that `--option K=V` gives as well as JSON values, and raising the
one-line error a user sees - and the attribute then holds the parsed value: `self.abs` is a
float, typed as one. `known_options`, the `cases annotate --help` text and the README table
(`_help.py`) derive from the same declarations, so they cannot drift apart.

An option whose default is `REQUIRED` must be given; its `missing` text (if any, `{name}` standing
for the grader's name) is then the whole error for an absent or a bad value, naming the fix. Two
options of which exactly one must be given (`rubric`, `rubric_file`) are the grader's
`exactly_one`; any other rule that ties options together is the grader's own `prepare()`.

Nothing here imports the rest of the graders: `_base` imports this module, and an option sees
the grader being built only as the small `Holder` it needs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Generic, Protocol, TypeVar, cast, overload

from casebank.errors import InvalidInput

__all__ = ["REQUIRED", "Choice", "File", "Flag", "Integer", "Json", "Number", "Option", "Text", "Texts", "truthy"]

T = TypeVar("T")


class Holder(Protocol):
    """What an option reads of the grader being built (`Grader` is one)."""

    @property
    def name(self) -> str: ...

    @property
    def options(self) -> Mapping[str, Any]: ...

    def invalid(self, option: str, value: Any, fix: str) -> InvalidInput: ...

    def path_option(self, option: str) -> Path: ...


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()


def truthy(value: Any) -> bool:
    """An option's truth as `--option K=V` gives it: true/false, yes/no, 1/0, on/off as text too."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


class Option(Generic[T]):
    """One declared option: a descriptor whose instance value is the parsed option."""

    kind: ClassVar[str] = "value"  # the type, as help and the README name it
    placeholder_default: ClassVar[str] = "VALUE"

    def __init__(
        self,
        default: Any = None,
        *,
        help: str,
        option: str | None = None,
        placeholder: str | None = None,
        missing: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.default = default
        self.help = help
        self.option = option or ""  # the name in the case file; the attribute's name unless it is a keyword
        self.attribute = ""
        self.placeholder = placeholder or self.placeholder_default
        self.missing = missing
        self.fix = fix

    def __set_name__(self, owner: type, name: str) -> None:
        self.attribute = name
        self.option = self.option or name

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> Option[T]: ...

    @overload
    def __get__(self, obj: object, owner: type | None = None) -> T: ...

    def __get__(self, obj: object | None, owner: type | None = None) -> Option[T] | T:
        # Grader.__init__ puts each parsed value in the instance's __dict__, which wins over this
        # (non-data) descriptor; reaching here means the grader has not read its options yet.
        if obj is None:
            return self
        raise AttributeError(f"option {self.option!r} is read when the grader is built (Grader.__init__)")

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def read(self, grader: Holder) -> T:
        """This option's value for `grader`: parsed from its options, else the default."""
        if self.option not in grader.options:
            if self.required:
                raise self.refuse(grader, None, "")
            return self.default  # type: ignore[no-any-return]
        return self.parse(grader, grader.options[self.option])

    def parse(self, grader: Holder, raw: Any) -> T:
        return raw  # type: ignore[no-any-return]

    def refuse(self, grader: Holder, raw: Any, fix: str) -> InvalidInput:
        """The error for a bad value: the `missing` text when the option has one, else the value and `fix`."""
        if self.missing is not None:
            return InvalidInput(self.missing.format(name=grader.name))
        if raw is None and self.required:
            return InvalidInput(f"grader '{grader.name}' needs --option {self.usage()}")
        return grader.invalid(self.option, raw, self.fix or fix)

    def usage(self) -> str:
        return f"{self.option}={self.placeholder}"

    def default_text(self) -> str | None:
        """The default as a person would type it, or None when there is none to show."""
        if self.default is None or self.required:
            return None
        if isinstance(self.default, bool):
            return "true" if self.default else "false"
        if isinstance(self.default, float):
            return f"{self.default:g}"
        return str(self.default)


def _as_text(raw: Any) -> Any:
    # `--option substring=14` arrives as the number 14 (values are JSON where they parse): it meant the text.
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        return str(raw)
    return raw


class Text(Option[T]):
    """A non-empty text (a number given where a text is meant is taken as its text)."""

    kind = "text"
    placeholder_default = "TEXT"

    @overload
    def __init__(
        self: Text[str],
        default: str,
        *,
        help: str,
        option: str | None = None,
        placeholder: str | None = None,
        missing: str | None = None,
        fix: str | None = None,
    ) -> None: ...

    @overload
    def __init__(
        self: Text[str | None],
        default: None = None,
        *,
        help: str,
        option: str | None = None,
        placeholder: str | None = None,
        missing: str | None = None,
        fix: str | None = None,
    ) -> None: ...

    def __init__(
        self,
        default: str | None = None,
        *,
        help: str,
        option: str | None = None,
        placeholder: str | None = None,
        missing: str | None = None,
        fix: str | None = None,
    ) -> None:
        super().__init__(default, help=help, option=option, placeholder=placeholder, missing=missing, fix=fix)

    def parse(self, grader: Holder, raw: Any) -> T:
        text = _as_text(raw)
        if not isinstance(text, str) or not text.strip():
            raise self.refuse(grader, raw, "give a non-empty text")
        return text  # type: ignore[return-value]


class Texts(Option[T]):
    """A non-empty text, or a non-empty JSON list of them; the value is always a list."""

    kind = "text or list of texts"
    placeholder_default = "TEXT"

    def __init__(
        self: Texts[list[str] | None],
        default: None = None,
        *,
        help: str,
        option: str | None = None,
        placeholder: str | None = None,
        missing: str | None = None,
        fix: str | None = None,
    ) -> None:
        super().__init__(default, help=help, option=option, placeholder=placeholder, missing=missing, fix=fix)

    def parse(self, grader: Holder, raw: Any) -> T:
        texts = [_as_text(t) for t in raw] if isinstance(raw, list) else [_as_text(raw)]
        if not texts or not all(isinstance(t, str) and t for t in texts):
            raise self.refuse(grader, raw, "give a text or a JSON list of texts")
        return list(texts)  # type: ignore[return-value]


class Number(Option[T]):
    """A finite number >= `minimum` (and <= `maximum`); numbers given as text are accepted."""

    kind = "number"
    placeholder_default = "N"

    @overload
    def __init__(
        self: Number[float],
        default: float,
        *,
        help: str,
        minimum: float = 0.0,
        maximum: float | None = None,
        above: str = "",
        option: str | None = None,
        placeholder: str | None = None,
    ) -> None: ...

    @overload
    def __init__(
        self: Number[float | None],
        default: None = None,
        *,
        help: str,
        minimum: float = 0.0,
        maximum: float | None = None,
        above: str = "",
        option: str | None = None,
        placeholder: str | None = None,
    ) -> None: ...

    def __init__(
        self,
        default: float | None = None,
        *,
        help: str,
        minimum: float = 0.0,
        maximum: float | None = None,
        above: str = "",
        option: str | None = None,
        placeholder: str | None = None,
    ) -> None:
        super().__init__(default, help=help, option=option, placeholder=placeholder)
        self.minimum = minimum
        self.maximum = maximum
        self.above = above or (f"use a number <= {maximum:g}" if maximum is not None else "")

    def parse(self, grader: Holder, raw: Any) -> T:
        try:
            number = float(raw) if not isinstance(raw, bool) else math.nan
        except (TypeError, ValueError):
            number = math.nan
        if not math.isfinite(number) or number < self.minimum:
            raise grader.invalid(self.option, raw, f"use a number >= {self.minimum:g}")
        if self.maximum is not None and number > self.maximum:
            raise grader.invalid(self.option, raw, self.above)
        return number  # type: ignore[return-value]


class Integer(Option[int]):
    """A whole number: as a `Number`, with its fraction dropped."""

    kind = "integer"
    placeholder_default = "N"

    def __init__(
        self,
        default: int,
        *,
        help: str,
        minimum: float = 0.0,
        option: str | None = None,
        placeholder: str | None = None,
    ) -> None:
        super().__init__(default, help=help, option=option, placeholder=placeholder)
        self.number: Number[float] = Number(float(default), help=help, minimum=minimum)

    def __set_name__(self, owner: type, name: str) -> None:
        super().__set_name__(owner, name)
        self.number.__set_name__(owner, self.option)

    def parse(self, grader: Holder, raw: Any) -> int:
        return int(self.number.parse(grader, raw))


class Flag(Option[bool]):
    """true or false (`--option ignore_case=yes` too)."""

    kind = "true/false"
    placeholder_default = "true"

    def __init__(self, default: bool = False, *, help: str, option: str | None = None) -> None:
        super().__init__(default, help=help, option=option)

    def parse(self, grader: Holder, raw: Any) -> bool:
        return truthy(raw)


class Choice(Option[T]):
    """One of a few words."""

    kind = "choice"

    @overload
    def __init__(
        self: Choice[str], default: str, choices: tuple[str, ...], *, help: str, option: str | None = None
    ) -> None: ...

    @overload
    def __init__(
        self: Choice[str | None], default: None, choices: tuple[str, ...], *, help: str, option: str | None = None
    ) -> None: ...

    def __init__(self, default: str | None, choices: tuple[str, ...], *, help: str, option: str | None = None) -> None:
        super().__init__(default, help=help, option=option, placeholder="|".join(choices))
        self.choices = choices

    def parse(self, grader: Holder, raw: Any) -> T:
        if raw not in self.choices:
            raise grader.invalid(self.option, raw, f"use one of: {', '.join(self.choices)}")
        return str(raw)  # type: ignore[return-value]


class File(Option[T]):
    """An existing file, named relative to the suite folder (or absolute); the value is its path."""

    kind = "file"
    placeholder_default = "PATH"

    @overload
    def __init__(
        self: File[Path], default: _Required, *, help: str, option: str | None = None, placeholder: str | None = None
    ) -> None: ...

    @overload
    def __init__(
        self: File[Path | None],
        default: None = None,
        *,
        help: str,
        option: str | None = None,
        placeholder: str | None = None,
    ) -> None: ...

    def __init__(
        self, default: Any = None, *, help: str, option: str | None = None, placeholder: str | None = None
    ) -> None:
        super().__init__(default, help=help, option=option, placeholder=placeholder)

    def read(self, grader: Holder) -> T:
        if self.option not in grader.options and self.required:
            return self.parse(grader, None)  # the same message as for an empty path
        return super().read(grader)

    def parse(self, grader: Holder, raw: Any) -> T:
        return grader.path_option(self.option)  # type: ignore[return-value]


class Json(Option[T]):
    """A JSON value of one of `types` (an object, a list, ...), given inline."""

    kind = "JSON"
    placeholder_default = "JSON"

    def __init__(
        self: Json[Any],
        default: Any = None,
        *,
        types: tuple[type, ...],
        help: str,
        option: str | None = None,
        placeholder: str | None = None,
        missing: str | None = None,
        fix: str | None = None,
    ) -> None:
        super().__init__(default, help=help, option=option, placeholder=placeholder, missing=missing, fix=fix)
        self.types = types

    def parse(self, grader: Holder, raw: Any) -> T:
        if not isinstance(raw, self.types) or (isinstance(raw, list) and not raw):
            raise self.refuse(grader, raw, f"give JSON of type {' or '.join(t.__name__ for t in self.types)}")
        return cast(T, raw)
