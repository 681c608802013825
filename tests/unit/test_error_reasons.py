"""Every error reason the code can raise is listed in the README's table of reasons."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
# The calls that name a reason, and which positional argument holds it.
_REASON_ARGUMENT = {"PrizmError": 1, "invalid_argument": 1, "_Refused": 0}


def _name(call: ast.Call) -> str:
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def _reasons_raised() -> dict[str, str]:
    """Each literal reason in prizm_core and provider_servers, with one place it is raised."""
    found: dict[str, str] = {}
    for path in sorted([*ROOT.glob("prizm_core/**/*.py"), *ROOT.glob("provider_servers/**/*.py")]):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or _name(node) not in _REASON_ARGUMENT:
                continue
            position = _REASON_ARGUMENT[_name(node)]
            candidates = [kw.value for kw in node.keywords if kw.arg == "reason"]
            candidates += node.args[position : position + 1]
            for value in candidates:
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    found.setdefault(value.value, f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_the_scan_finds_the_reasons_it_should() -> None:
    raised = _reasons_raised()
    assert {"INVALID_OPTIONS", "PROVIDER_CRASHED", "MALFORMED_REQUEST", "ENDPOINT_NOT_REGISTERED"} <= set(
        raised
    )


def test_every_reason_raised_is_in_the_readme() -> None:
    listed = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", README))
    missing = {reason: where for reason, where in _reasons_raised().items() if reason not in listed}
    assert missing == {}, f"reasons raised but not in the README's table: {missing}"
