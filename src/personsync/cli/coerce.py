"""Options of the plain kinds (text, yes or no, whole numbers, numbers with a lower or upper
bound, a choice of an Enum) converted without pydantic.

Typer (0.24 and later) converts every option of the command that runs through a pydantic
TypeAdapter it builds then, even an option left at its default: importing pydantic and building
a dozen adapters was 0.1-0.15 s of every `export` (issue 16, start-up), for conversions a few
lines do. `plain_options(command)` gives each such option of a command tree a converter of its
own before the command line is parsed; any other kind (lists, paths, files) keeps Typer's.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from types import SimpleNamespace
from typing import Any

from typer._click import Context
from typer._click.exceptions import BadParameter
from typer._coercion import RuntimeParam
from typer._param_types import coerce_cli_choice

_TRUTH = {"": False, "0": False, "false": False, "f": False, "no": False, "n": False, "off": False}
_TRUTH |= {"1": True, "true": True, "t": True, "yes": True, "y": True, "on": True}


@dataclass(frozen=True)
class PlainParam(RuntimeParam):
    """Typer's conversion of one option (`RuntimeParam`), for str, bool, int, float and Enum."""

    def _coerce_value(self, value: Any, param: Any, ctx: Context) -> Any:
        kind, info = self.annotation, self.parameter_info
        if kind is str:
            return value if isinstance(value, str) else str(value)
        if kind is bool:
            truth = _TRUTH.get(str(value).strip().lower()) if not isinstance(value, bool) else value
            if truth is None:
                raise BadParameter(f"{value!r} is not yes or no", ctx=ctx, param=param)
            return truth
        if isinstance(kind, type) and issubclass(kind, Enum):
            try:
                return coerce_cli_choice(
                    value, choices=tuple(kind), case_sensitive=info.case_sensitive, ctx=ctx
                )
            except ValueError as exc:
                raise BadParameter(str(exc), ctx=ctx, param=param) from exc
        number = _number(kind, value)
        if number is None:
            what = "a whole number" if kind is int else "a number"
            raise BadParameter(f"{value!r} is not {what}", ctx=ctx, param=param)
        if info.min is not None and number < info.min:
            raise BadParameter(f"{value!r} is less than {info.min}", ctx=ctx, param=param)
        if info.max is not None and number > info.max:
            raise BadParameter(f"{value!r} is more than {info.max}", ctx=ctx, param=param)
        return number


def _number(kind: type, value: Any) -> int | float | None:
    if isinstance(value, bool):
        return None
    try:
        number = kind(value)
    except (TypeError, ValueError):
        return None
    return number if isinstance(number, int) or math.isfinite(number) else None


def _plain(param: Any) -> bool:
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is None or descriptor.file_annotation is not None:
        return False
    info = descriptor.parameter_info
    if info.parser is not None or info.clamp or param.multiple or param.nargs != 1:
        return False
    kind = descriptor.annotation
    if kind in (int, float, bool):
        return True
    if kind is str:
        return info.min is None and info.max is None
    return isinstance(kind, type) and issubclass(kind, Enum)


def plain_options(command: Any, help_names: Sequence[str], args: Sequence[str]) -> None:
    """Give every option of the plain kinds of `command` and of the subcommands `args` name its
    own converter (options of other kinds keep Typer's), the help option (`help_names`)
    included: Typer makes that one when it is first asked for, and keeps it."""
    helper = command.get_help_option(SimpleNamespace(help_option_names=list(help_names)))
    for param in [*getattr(command, "params", ()), *([helper] if helper else [])]:
        if _plain(param) and getattr(param, "_runtime_param", None) is None:
            descriptor = param.type_descriptor
            param._runtime_param = PlainParam(descriptor.parameter_info, descriptor.annotation)
    commands = getattr(command, "commands", {})
    for n, arg in enumerate(args):
        if arg in commands:
            plain_options(commands[arg], help_names, args[n + 1 :])
            return
