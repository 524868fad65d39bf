"""What every `painclinic` command group shares: exit codes, error lines, JSON in and out.

Exit status of every command:

* 0 (``EXIT_OK``) — done.
* 1 (``EXIT_REFUSED``) — refused on purpose: a drug-library hard limit refused the order
  (``dose calculate``), the audit trail's hash chain is broken (``audit verify``), the storage
  is not durable (``serve``), the dosing calculator is unavailable (``protocol plan``).
* 2 (``EXIT_BAD_INPUT``) — bad input or usage: an unreadable file, text that is not UTF-8,
  malformed or too deeply nested JSON, a number that is not finite or is out of range, a wrong
  JSON type, or a field the core rejects. Typer's own usage errors exit 2 as well.

An error is one line on standard error, ``error: ...``, naming the file or the field; never a
traceback. Bad input never exits 1: 1 always means "refused".
"""

from __future__ import annotations

import json
import math
import pathlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import typer

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_BAD_INPUT = 2

# No quantity in a regimen, order, answers, facts, observation or history file comes near
# these; anything beyond them is a typing slip, and would only overflow the arithmetic later.
MAX_MAGNITUDE = 1e15
MAX_DEPTH = 32
_OUT_OF_RANGE = f"must be between -{MAX_MAGNITUDE:g} and {MAX_MAGNITUDE:g}"


def fail(message: str) -> NoReturn:
    """Report bad input on one line of standard error and exit with status 2."""
    typer.echo(f"error: {_one_line(message)}", err=True)
    raise typer.Exit(code=EXIT_BAD_INPUT)


def refuse(message: str) -> NoReturn:
    """Report a refusal (hard limit, broken chain, ...) on standard error and exit with status 1."""
    typer.echo(f"error: {_one_line(message)}", err=True)
    raise typer.Exit(code=EXIT_REFUSED)


def _one_line(message: str) -> str:
    return " ".join(message.splitlines())


def source_name(path: str) -> str:
    """How a JSON argument is named in messages: the path, or 'standard input' for '-'."""
    return "standard input" if path == "-" else path


def read_json(path: str, what: str) -> dict[str, Any]:
    """Read one JSON object from a file, or from standard input when ``path`` is '-'.

    ``what`` names the input in messages (``regimen``, ``order``, ``ANSWERS``, ...). Anything
    that is not a strict-JSON object of finite numbers within ``MAX_MAGNITUDE`` and nested at
    most ``MAX_DEPTH`` levels ends the command with status 2 and one line naming the file or
    the field.
    """
    source = source_name(path)
    try:
        raw = _read_stdin() if path == "-" else pathlib.Path(path).read_bytes()
    except OSError as exc:
        fail(f"{what}: cannot read {source}: {exc.strerror or exc}")
    try:
        text = raw if isinstance(raw, str) else raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        fail(
            f"{what}: {source} is not UTF-8 text "
            f"(byte 0x{exc.object[exc.start]:02x} at offset {exc.start})"
        )
    try:
        data = json.loads(
            text, parse_float=_parse_float, parse_int=_parse_int, parse_constant=_Rejected
        )
    except json.JSONDecodeError as exc:
        fail(
            f"{what}: malformed JSON in {source}: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        )
    except RecursionError:
        fail(f"{what}: {source} is nested too deeply (more than {MAX_DEPTH} levels)")
    _check_tree(data, what, source)
    if not isinstance(data, dict):
        fail(f"{what}: {source} must hold a JSON object {{...}}, got {_json_type(data)}")
    return data


def _read_stdin() -> bytes | str:
    buffer = getattr(sys.stdin, "buffer", None)
    if buffer is not None:
        return bytes(buffer.read())
    try:
        return sys.stdin.read()
    except UnicodeDecodeError as exc:  # a text-only stdin decodes for us
        raise OSError(f"not UTF-8 text (byte at offset {exc.start})") from None


class _Rejected:
    """A number strict JSON or the clinic refuses, kept with its text until its field is known."""

    def __init__(self, text: str, problem: str = "must be a finite number") -> None:
        self.text = text if len(text) <= 24 else f"{text[:12]}... ({len(text)} characters)"
        self.problem = problem


def _parse_float(text: str) -> float | _Rejected:
    value = float(text)
    if not math.isfinite(value):
        return _Rejected(text)
    if abs(value) > MAX_MAGNITUDE:
        return _Rejected(text, _OUT_OF_RANGE)
    return value


def _parse_int(text: str) -> int | _Rejected:
    # Checked on the digits first: int() of a 5,000-digit string would itself refuse.
    if len(text.lstrip("-")) > 16 or abs(int(text)) > MAX_MAGNITUDE:
        return _Rejected(text, _OUT_OF_RANGE)
    return int(text)


def _check_tree(data: Any, what: str, source: str) -> None:
    """Walk the parsed document in order, without recursion, for depth and rejected numbers."""
    stack: list[tuple[Any, str, int]] = [(data, "", 1)]
    while stack:
        node, field, depth = stack.pop()
        if isinstance(node, _Rejected):
            fail(f"{what}: {field or '<root>'}: {node.problem}, got {node.text}")
        if isinstance(node, dict | list):
            if depth > MAX_DEPTH:
                fail(f"{what}: {source} is nested too deeply (more than {MAX_DEPTH} levels)")
            items = (
                [(_field(field, key), value) for key, value in node.items()]
                if isinstance(node, dict)
                else [(f"{field}[{i}]", value) for i, value in enumerate(node)]
            )
            stack.extend((value, name, depth + 1) for name, value in reversed(items))


def _field(parent: str, key: str) -> str:
    name = key if key.isidentifier() else json.dumps(key[:40])
    return f"{parent}.{name}" if parent else name


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "true/false"
    if value is None:
        return "null"
    return "a number"


@contextmanager
def reported(what: str, *input_errors: type[Exception]) -> Iterator[None]:
    """Run a core call: its input errors, and arithmetic the input pushed out of range, exit 2.

    ``what`` names the input in the message, e.g. ``"order in order.json"``.
    """
    try:
        yield
    except input_errors as exc:
        fail(str(exc))
    except (ArithmeticError, RecursionError) as exc:
        fail(f"{what}: numbers out of range for the calculation ({type(exc).__name__})")


def emit_json(data: Any, *, indent: int = 2, ascii_only: bool = False) -> None:
    """Print ``data`` as JSON on standard output."""
    typer.echo(json.dumps(data, indent=indent, ensure_ascii=ascii_only))
