"""Where a value sits in a YAML file: the line of the node a validation error's field path points at."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

__all__ = ["compose", "duplicate_keys", "line_of"]

# The key pydantic puts in a field path for an error in a mapping's key rather than its value.
_KEY = "[key]"


def compose(text: str) -> Node | None:
    """The YAML document's node tree, with the marks (line, column) of every node.

    Raises:
        yaml.YAMLError: The text is not YAML; `problem_mark` says where.
    """
    return yaml.compose(text, Loader=yaml.SafeLoader)


def _child(node: Node, part: str | int) -> tuple[Node, int] | None:
    """The node under `part` and the line that names it: its key's in a mapping, its own in a list."""
    if isinstance(node, MappingNode):
        for key, value in node.value:
            if key.value == str(part):
                return value, int(key.start_mark.line) + 1
    if isinstance(node, SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        item: Node = node.value[part]
        return item, int(item.start_mark.line) + 1
    return None


def line_of(root: Node | None, path: Sequence[str | int]) -> int:
    """The 1-based line naming the field at `path`, or its nearest ancestor in the file.

    A field in a mapping is on its key's line (a nested mapping's value starts below it); a missing
    field has no line of its own, so it gets the line of the mapping it belongs in (its key's).
    """
    if root is None:
        return 1
    node, line = root, int(root.start_mark.line) + 1
    for part in path:
        if part == _KEY:  # the error is in the key itself, which is on the same line
            continue
        found = _child(node, part)
        if found is None:
            break
        node, line = found
    return line


def duplicate_keys(node: Node | None, path: tuple[str, ...] = ()) -> Iterator[tuple[str, int]]:
    """Each key given twice in one mapping, as `(field path, line of the second)`.

    YAML loaders keep the last value silently; a manifest must not say two things.
    """
    if isinstance(node, MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            name = str(key.value)
            if name in seen:
                yield ".".join((*path, name)), int(key.start_mark.line) + 1
            seen.add(name)
            yield from duplicate_keys(value, (*path, name))
    elif isinstance(node, SequenceNode):
        for index, item in enumerate(node.value):
            yield from duplicate_keys(item, (*path, str(index)))
