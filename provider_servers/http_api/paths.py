"""Fields of the API's JSON found by JMESPath (`data[0].url`), from the `http_api` extra."""

from __future__ import annotations

import functools
import importlib.util
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jmespath.parser import ParsedResult

__all__ = ["INSTALL_HINT", "check_path", "installed", "search"]

INSTALL_HINT = "jmespath (pip install 'prizm[http_api]')"


def installed() -> bool:
    """Whether jmespath can be imported here."""
    return importlib.util.find_spec("jmespath") is not None


@functools.cache
def _compiled(expression: str) -> ParsedResult:
    # Imported here: the extra may be missing, and `HttpApiProvider.missing()` then says so.
    import jmespath  # noqa: PLC0415

    return jmespath.compile(expression)


def check_path(expression: str) -> str:
    """`expression` when it is a JMESPath expression.

    Raises:
        ValueError: It is not one; the message says where it goes wrong.
    """
    import jmespath.exceptions  # noqa: PLC0415 - see _compiled

    try:
        _compiled(expression)
    except jmespath.exceptions.JMESPathError as exc:
        raise ValueError(f"not a JMESPath expression: {' '.join(str(exc).split())}") from None
    return expression


def search(expression: str, body: Any) -> Any:
    """What `expression` finds in `body` (parsed JSON); None when it finds nothing."""
    return _compiled(expression).search(body)
