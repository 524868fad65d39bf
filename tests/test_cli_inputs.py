"""Hostile input files to the JSON-reading commands: always exit 2 and one line, never a traceback.

Exit 1 means "refused by a hard limit" (or a broken audit chain), so bad input must never end
with 1 — which is what an uncaught exception inside Typer's runner would give.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from painclinic.cli import app
from painclinic.cli._io import EXIT_BAD_INPUT, EXIT_OK, EXIT_REFUSED, MAX_DEPTH
from painclinic.clinical.eligibility import facts_template

REGIMEN: dict[str, Any] = {
    "drug": "ketamine",
    "model": "domino",
    "patient": {"weight_kg": 70, "height_cm": 170, "age_years": 45, "sex": "female"},
    "doses": [
        {"route": "iv_bolus", "time_h": 0, "amount_mg": 10},
        {"route": "iv_infusion", "time_h": 0, "rate_mg_per_h": 24.5, "duration_h": 4},
    ],
    "times_h": {"start": 0, "stop": 8, "step": 0.25},
}
ORDER: dict[str, Any] = {
    "drug": "ketamine",
    "patient": {"weight_kg": 70},
    "dose": {"value": 0.35, "unit": "mg/kg/h"},
    "duration_min": 240,
    "bag": {"concentration_mg_per_ml": 1},
}
FACTS: dict[str, Any] = facts_template() | {
    "age_years": 40,
    "weight_kg": 70,
    "pregnancy": "not_pregnant",
}
OBSERVATION: dict[str, Any] = {"heart_rate_bpm": 80, "symptoms": []}
HISTORY: dict[str, Any] = {
    "trials": [
        {
            "drug": "ketamine",
            "total_dose_mg": 100,
            "duration_h": 4,
            "baseline_nrs": 8,
            "followups": [{"day": 7, "nrs": 7, "pgic": 4}],
        }
    ]
}

# command words before the file argument, what the messages call the input, a valid input
COMMANDS: dict[str, tuple[list[str], list[str], str, dict[str, Any]]] = {
    "pk simulate": (["pk", "simulate"], [], "regimen", REGIMEN),
    "pk population": (["pk", "population"], ["--n", "20"], "regimen", REGIMEN),
    "dose calculate": (["dose", "calculate"], [], "order", ORDER),
    "assess": (["assess", "nrs"], [], "ANSWERS", {"score": 7}),
    "eligibility": (["eligibility"], [], "FACTS", FACTS),
    "monitor": (["monitor"], ["--drug", "ketamine"], "OBSERVATION", OBSERVATION),
    "outcome": (["outcome"], [], "HISTORY", HISTORY),
}
CORE_FOUR = ["pk simulate", "pk population", "dose calculate", "assess", "eligibility"]

# One numeric field per core command, as (path into the document, how messages name it).
NUMERIC_FIELD: dict[str, tuple[tuple[str | int, ...], str]] = {
    "pk simulate": (("doses", 0, "amount_mg"), "doses[0].amount_mg"),
    "pk population": (("times_h", "stop"), "times_h.stop"),
    "dose calculate": (("dose", "value"), "dose.value"),
    "assess": (("score",), "score"),
    "eligibility": (("weight_kg",), "weight_kg"),
}

runner = CliRunner()


def invoke(command: str, target: str, stdin: bytes | str | None = None) -> Result:
    words, options, _, _ = COMMANDS[command]
    return runner.invoke(app, [*words, target, *options], input=stdin)


def assert_bad_input(result: Result, *named: str) -> str:
    """Exit 2, nothing on stdout, one `error:` line on stderr naming every string in ``named``."""
    assert result.exit_code == EXIT_BAD_INPUT, (result.exit_code, result.output)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.stderr
    for name in named:
        assert name in lines[0], (name, lines[0])
    return lines[0]


def write_bytes(tmp_path: Path, data: bytes) -> str:
    path = tmp_path / "input.json"
    path.write_bytes(data)
    return str(path)


def with_value(document: dict[str, Any], path: tuple[str | int, ...], number_text: str) -> str:
    """The document as JSON text with the value at ``path`` spelled exactly ``number_text``."""
    marker = "__NUMBER__"
    copy = json.loads(json.dumps(document))
    node: Any = copy
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = marker
    return json.dumps(copy).replace(f'"{marker}"', number_text)


def test_the_documented_exit_codes() -> None:
    assert (EXIT_OK, EXIT_REFUSED, EXIT_BAD_INPUT) == (0, 1, 2)


@pytest.mark.parametrize("command", COMMANDS)
def test_valid_input_still_works(command: str, tmp_path: Path) -> None:
    document = COMMANDS[command][3]
    result = invoke(command, write_bytes(tmp_path, json.dumps(document).encode()))
    assert result.exit_code == EXIT_OK, result.output
    json.loads(result.stdout)


# ---- the file itself -------------------------------------------------------------------------


@pytest.mark.parametrize("command", COMMANDS)
def test_missing_file(command: str, tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.json")
    what = COMMANDS[command][2]
    assert_bad_input(invoke(command, missing), what, missing, "cannot read")


@pytest.mark.parametrize("command", COMMANDS)
def test_unreadable_file_a_directory(command: str, tmp_path: Path) -> None:
    what = COMMANDS[command][2]
    assert_bad_input(invoke(command, str(tmp_path)), what, str(tmp_path), "cannot read")


@pytest.mark.parametrize("command", COMMANDS)
def test_non_utf8_file(command: str, tmp_path: Path) -> None:
    path = write_bytes(tmp_path, b'{"drug": "ketamin\xe9"}')  # Latin-1, not UTF-8
    line = assert_bad_input(invoke(command, path), COMMANDS[command][2], path, "not UTF-8")
    assert "0xe9" in line


@pytest.mark.parametrize("command", CORE_FOUR)
def test_non_utf8_stdin(command: str) -> None:
    assert_bad_input(invoke(command, "-", stdin=b"\xff\xfe{}"), "standard input", "not UTF-8")


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("text", ["{not json", '{"a": 1,}', "", "[1, 2"])
def test_invalid_json(command: str, text: str, tmp_path: Path) -> None:
    path = write_bytes(tmp_path, text.encode())
    assert_bad_input(invoke(command, path), COMMANDS[command][2], path, "malformed JSON", "line 1")


@pytest.mark.parametrize("command", CORE_FOUR)
def test_invalid_json_on_stdin(command: str) -> None:
    assert_bad_input(invoke(command, "-", stdin="{oops"), "standard input", "malformed JSON")


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000 + "]" * 100_000,  # the JSON parser itself runs out of recursion
        '{"a": ' * 5_000 + "1" + "}" * 5_000,
        '{"a": ' * (MAX_DEPTH + 1) + "1" + "}" * (MAX_DEPTH + 1),  # parses; too deep to accept
    ],
    ids=["arrays-100000", "objects-5000", "objects-just-too-deep"],
)
def test_deeply_nested_json(command: str, text: str, tmp_path: Path) -> None:
    path = write_bytes(tmp_path, text.encode())
    assert_bad_input(invoke(command, path), COMMANDS[command][2], path, "nested too deeply")


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(
    ("text", "kind"),
    [("[]", "an array"), ('"{}"', "a string"), ("7", "a number"), ("null", "null")],
)
def test_top_level_must_be_an_object(command: str, text: str, kind: str, tmp_path: Path) -> None:
    path = write_bytes(tmp_path, text.encode())
    assert_bad_input(invoke(command, path), COMMANDS[command][2], path, "JSON object", kind)


def test_a_json_string_holding_json_is_not_decoded_twice(tmp_path: Path) -> None:
    # The pharmacology core accepts JSON text; a file holding a JSON *string* is still refused.
    path = write_bytes(tmp_path, json.dumps(json.dumps(REGIMEN)).encode())
    assert_bad_input(invoke("pk simulate", path), "regimen", "a string")


# ---- numbers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("command", CORE_FOUR)
@pytest.mark.parametrize(
    ("number", "problem"),
    [
        ("NaN", "finite"),
        ("Infinity", "finite"),
        ("-Infinity", "finite"),
        ("1e400", "finite"),  # overflows to infinity while parsing
        ("1e308", "between -1e+15 and 1e+15"),
        ("-1e308", "between -1e+15 and 1e+15"),
        ("1e16", "between -1e+15 and 1e+15"),
        ("12345678901234567890", "between -1e+15 and 1e+15"),
        ("9" * 5000, "between -1e+15 and 1e+15"),  # beyond Python's int-from-text digit limit
    ],
    ids=lambda v: v if len(v) < 30 else f"{v[:6]}...",
)
def test_non_finite_or_huge_number_names_the_field(
    command: str, number: str, problem: str, tmp_path: Path
) -> None:
    document = COMMANDS[command][3]
    path_in_doc, field = NUMERIC_FIELD[command]
    path = write_bytes(tmp_path, with_value(document, path_in_doc, number).encode())
    line = assert_bad_input(invoke(command, path), COMMANDS[command][2], field, problem)
    assert len(line) < 200


@pytest.mark.parametrize("command", CORE_FOUR)
def test_a_large_but_accepted_number_is_left_to_the_core(command: str, tmp_path: Path) -> None:
    # 1e15 passes the reader; the core answers (a result, a hard limit, or a field error).
    document = COMMANDS[command][3]
    path_in_doc, _ = NUMERIC_FIELD[command]
    path = write_bytes(tmp_path, with_value(document, path_in_doc, "1e15").encode())
    result = invoke(command, path)
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.exit_code in (EXIT_OK, EXIT_REFUSED, EXIT_BAD_INPUT)
    if command == "dose calculate":
        assert result.exit_code == EXIT_REFUSED  # a hard limit, as before
        assert json.loads(result.stdout)["status"] == "hard_limit"


def test_arithmetic_the_input_overflows_exits_2_naming_the_file(tmp_path: Path) -> None:
    # A step of 1e-308 h makes the number of time points overflow to infinity.
    regimen = json.loads(json.dumps(REGIMEN))
    regimen["times_h"]["step"] = 1e-308
    path = write_bytes(tmp_path, json.dumps(regimen).encode())
    assert_bad_input(invoke("pk simulate", path), "regimen", path, "out of range")
    # Decimal arithmetic in the calculator cannot hold a rate of 1e14 mg/kg/h at 1e-300 mg/mL.
    order = ORDER | {
        "dose": {"value": 1e14, "unit": "mg/kg/h"},
        "bag": {"concentration_mg_per_ml": 1e-300},
    }
    path = write_bytes(tmp_path, json.dumps(order).encode())
    assert_bad_input(invoke("dose calculate", path), "order", path, "out of range")


# ---- JSON types of fields --------------------------------------------------------------------


@pytest.mark.parametrize("command", CORE_FOUR)
@pytest.mark.parametrize("value", ['"70"', "true", "[70]", '{"kg": 70}'])
def test_wrong_type_for_a_number_names_the_field(command: str, value: str, tmp_path: Path) -> None:
    document = COMMANDS[command][3]
    path_in_doc, field = NUMERIC_FIELD[command]
    path = write_bytes(tmp_path, with_value(document, path_in_doc, value).encode())
    assert_bad_input(invoke(command, path), field)


@pytest.mark.parametrize(
    ("command", "mutate", "field"),
    [
        ("pk simulate", lambda d: d | {"doses": {"route": "iv_bolus"}}, "doses"),
        ("pk population", lambda d: d | {"patient": [70]}, "patient"),
        ("dose calculate", lambda d: d | {"dose": 0.35}, "dose"),
        ("assess", lambda d: {"score": None}, "score"),
        ("eligibility", lambda d: d | {"comorbidities": []}, "comorbidities"),
    ],
)
def test_wrong_type_for_a_section_names_it(
    command: str, mutate: Callable[[dict[str, Any]], dict[str, Any]], field: str, tmp_path: Path
) -> None:
    document = mutate(json.loads(json.dumps(COMMANDS[command][3])))
    path = write_bytes(tmp_path, json.dumps(document).encode())
    assert_bad_input(invoke(command, path), field)


# ---- a real process: the installed entry point's module, no runner in between ----------------


@pytest.mark.parametrize(
    ("args", "stdin", "named"),
    [
        (["dose", "calculate", "-"], b"\xff{}", "not UTF-8"),
        (["assess", "nrs", "-"], b"[" * 100_000, "nested too deeply"),
        (["pk", "simulate", "-"], b'{"drug": NaN}', "drug: must be a finite number, got NaN"),
    ],
)
def test_a_real_process_prints_one_line_and_exits_2(
    args: list[str], stdin: bytes, named: str
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "painclinic.cli", *args],
        input=stdin,
        capture_output=True,
        timeout=120,
        check=False,
    )
    err = done.stderr.decode()
    assert done.returncode == EXIT_BAD_INPUT, err
    assert done.stdout == b""
    assert err.count("\n") == 1 and err.startswith("error: ") and named in err
