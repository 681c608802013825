"""One registry of error reasons: the proto enum, `Reason`, the README's table and every raise site agree."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from prizm.v1 import error_reason_pb2 as error_reason_pb

from prizm_core.errors import Reason
from scripts.gen_protos import TABLE_BEGIN, TABLE_END, ReasonDoc, parse_comment, render_table, with_table

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
# The calls that take a reason, and which positional argument holds it.
_REASON_ARGUMENT = {"PrizmError": 1, "invalid_argument": 1, "_Refused": 0}
_CODE_DIRS = ("prizm_core", "provider_servers", "scripts", "benchmarks")


def _name(call: ast.Call) -> str:
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def _reason_arguments(call: ast.Call) -> list[ast.expr]:
    """The expressions a call passes as a reason: its `reason=` keyword, and its positional one."""
    found = [kw.value for kw in call.keywords if kw.arg == "reason"]
    if _name(call) in _REASON_ARGUMENT:
        position = _REASON_ARGUMENT[_name(call)]
        found += call.args[position : position + 1]
    return found


def _literals(value: ast.expr) -> list[str]:
    """String literals an expression can evaluate to (through `a if c else b`)."""
    if isinstance(value, ast.Constant) and isinstance(value.value, str):
        return [value.value]
    if isinstance(value, ast.IfExp):
        return _literals(value.body) + _literals(value.orelse)
    return []


def _scan(source: str, where: str) -> tuple[list[str], list[str]]:
    """Raise sites in `source`: those naming a `Reason.X`, and those passing a string literal."""
    named: list[str] = []
    literal: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        for value in _reason_arguments(node):
            literal += [f"{where}:{node.lineno} {text!r}" for text in _literals(value)]
            named += [
                f"{where}:{node.lineno} {sub.attr}"
                for sub in ast.walk(value)
                if isinstance(sub, ast.Attribute)
                and isinstance(sub.value, ast.Name)
                and sub.value.id == "Reason"
            ]
    return named, literal


def _scan_code() -> tuple[list[str], list[str]]:
    named: list[str] = []
    literal: list[str] = []
    for folder in _CODE_DIRS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            found = _scan(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
            named += found[0]
            literal += found[1]
    return named, literal


def _readme_table() -> dict[str, str]:
    """The README's generated table of reasons: each reason with its code column."""
    begin, end = README.index("<!-- error-reasons:begin"), README.index("<!-- error-reasons:end -->")
    rows = re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \| ([A-Za-z_]+) \|", README[begin:end], re.M)
    return dict(rows)


def test_the_scan_tells_a_reason_from_a_string_literal() -> None:
    source = (
        "raise PrizmError(code, Reason.MODEL_NOT_FOUND, 'm')\n"
        "raise invalid_argument(v, reason='INVALID_OPTIONS')\n"
        "raise invalid_argument(v, Reason.ASSET_HASH_MISMATCH if bad else 'INVALID_INPUT')\n"
        "x = _Refused('MALFORMED_REQUEST', 'p')\n"
    )
    named, literal = _scan(source, "example.py")
    assert named == ["example.py:1 MODEL_NOT_FOUND", "example.py:3 ASSET_HASH_MISMATCH"]
    assert literal == [
        "example.py:2 'INVALID_OPTIONS'",
        "example.py:3 'INVALID_INPUT'",
        "example.py:4 'MALFORMED_REQUEST'",
    ]


def test_no_raise_site_passes_a_string_literal_as_a_reason() -> None:
    named, literal = _scan_code()
    assert literal == [], f"use Reason.X, not a string: {literal}"
    # The scan must be looking at the raise sites: these are raised in the router and the SDK.
    raised = {entry.rsplit(" ", 1)[1] for entry in named}
    assert {"INVALID_OPTIONS", "PROVIDER_CRASHED", "MALFORMED_REQUEST", "ENDPOINT_NOT_REGISTERED"} <= raised


def test_every_reason_named_in_the_code_exists() -> None:
    named, _ = _scan_code()
    unknown = [entry for entry in named if entry.rsplit(" ", 1)[1] not in Reason.__members__]
    assert unknown == []


def test_the_proto_enum_and_reason_agree() -> None:
    values = error_reason_pb.ErrorReason.DESCRIPTOR.values
    assert values[0].name == "ERROR_REASON_UNSPECIFIED" and values[0].number == 0
    from_proto = [value.name.removeprefix("ERROR_REASON_") for value in values[1:]]
    assert all(value.name.startswith("ERROR_REASON_") for value in values)
    assert from_proto == [member.name for member in Reason]
    assert all(member.value == member.name and isinstance(member, str) for member in Reason)
    assert Reason.INVALID_OPTIONS == "INVALID_OPTIONS"  # the wire string, unchanged


def test_every_reason_is_in_the_readme_table_with_its_code() -> None:
    table = _readme_table()
    assert list(table) == [member.name for member in Reason]
    assert table["INVALID_OPTIONS"] == "INVALID_ARGUMENT"
    assert table["PROVIDER_CRASHED"] == "UNAVAILABLE"
    assert table["REFUSED_ON_PURPOSE"] == "any"


def test_the_generator_reads_a_value_comment_and_refuses_a_malformed_one() -> None:
    comment = " Code: NOT_FOUND.\n When: no such\n thing.\n Details: metadata `id`.\n"
    assert parse_comment("ERROR_REASON_NO_THING", comment) == ReasonDoc(
        "NO_THING", "NOT_FOUND", "no such thing.", "metadata `id`."
    )
    for broken in (
        " When: no such thing.\n Details: none.\n",  # no code
        " Code: NOT_FOUND.\n When: no such thing.\n",  # no details
        " Code: NOT_A_CODE.\n When: no such thing.\n Details: none.\n",
        ' Code: NOT_FOUND.\n When: a """ quote.\n Details: none.\n',
    ):
        with pytest.raises(SystemExit, match="ERROR_REASON_NO_THING"):
            parse_comment("ERROR_REASON_NO_THING", broken)


def test_the_generator_replaces_only_the_text_between_the_markers() -> None:
    readme = f"before\n{TABLE_BEGIN}\nold rows\n{TABLE_END}\nafter\n"
    table = render_table([ReasonDoc("NO_THING", "NOT_FOUND", "a | b", "none.")])
    replaced = with_table(readme, table)
    assert replaced.startswith("before\n") and replaced.endswith(f"{TABLE_END}\nafter\n")
    assert "old rows" not in replaced
    assert "| `NO_THING` | NOT_FOUND | a \\| b | none. |" in replaced
    with pytest.raises(SystemExit, match="markers"):
        with_table("no markers here", table)
