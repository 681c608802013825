"""The SDK's modules import each other without a cycle (function-local imports included), the
provider class knows nothing of how it is served, and an author needs no generated module."""

from __future__ import annotations

import ast
import graphlib
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

from provider_servers import sdk

PACKAGE = "provider_servers.sdk"
ROOT = Path(sdk.__file__).parent
MODULES = {PACKAGE: ROOT / "__init__.py"} | {
    f"{PACKAGE}.{info.name}": ROOT / f"{info.name}.py" for info in pkgutil.iter_modules([str(ROOT)])
}


def imported(source: str, known: set[str]) -> set[str]:
    """The modules of `known` that `source` imports anywhere: at the top, in a function, under
    TYPE_CHECKING. `from package import name` counts the package, and `name` if it is a module."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found & known


def import_graph() -> dict[str, set[str]]:
    """Each SDK module with the SDK modules it imports."""
    return {name: imported(path.read_text(), set(MODULES)) for name, path in MODULES.items()}


def test_the_graph_sees_function_local_imports() -> None:
    # The shape of the cycle this test guards against: a base class that imports its server lazily.
    source = (
        "from provider_servers.sdk.jobs import Job\n"
        "class Provider:\n"
        "    @classmethod\n"
        "    def main(cls, argv):\n"
        "        from provider_servers.sdk.harness import main\n"
        "        return main(cls, argv)\n"
    )
    assert imported(source, set(MODULES)) == {f"{PACKAGE}.jobs", f"{PACKAGE}.harness"}
    graph = import_graph() | {f"{PACKAGE}.provider": imported(source, set(MODULES))}
    with pytest.raises(graphlib.CycleError):
        tuple(graphlib.TopologicalSorter(graph).static_order())


def test_sdk_modules_import_each_other_without_a_cycle() -> None:
    graph = import_graph()
    assert len(graph) >= 10, sorted(graph)  # the walk found the package's modules
    order = list(graphlib.TopologicalSorter(graph).static_order())
    # The package's own __init__ gathers the public names, so it comes after every module it imports.
    assert order.index(PACKAGE) > order.index(f"{PACKAGE}.harness") > order.index(f"{PACKAGE}.servicer")


def test_the_provider_class_does_not_know_how_it_is_served() -> None:
    graph = import_graph()
    serving = {f"{PACKAGE}.{name}" for name in ("harness", "servicer", "stream", "registration")}
    assert graph[f"{PACKAGE}.provider"].isdisjoint(serving)
    # Serving depends on the protocols in `served`, not on the base class.
    for module in ("servicer", "stream"):
        assert f"{PACKAGE}.provider" not in graph[f"{PACKAGE}.{module}"], module
        assert f"{PACKAGE}.served" in graph[f"{PACKAGE}.{module}"], module


def test_everything_an_author_needs_comes_from_one_import() -> None:
    wanted = {
        "Provider", "ModelSpec", "Param", "OptionValue", "Job", "InputAsset", "Event", "Output",
        "Progress", "Usage", "PrizmError", "Reason", "invalid_argument", "unknown_settings",
        "ToolError", "missing_tools", "tool_lines", "tool_meter", "file_chunks", "Capability",
        "MediaKind", "ProviderKind", "MediaUnit", "JobState", "run_provider",
    }  # fmt: skip
    assert wanted <= set(sdk.__all__)
    assert [name for name in sdk.__all__ if not hasattr(sdk, name)] == []


@pytest.mark.parametrize(
    "package", ["espeak", "ffmpeg", "imaging", "ocr", "piper", "pocketsphinx", "synthetic"]
)
def test_in_tree_providers_import_no_generated_module(package: str) -> None:
    for path in (ROOT.parent / package).glob("*.py"):
        names = imported(path.read_text(), {"prizm", "prizm.v1"})
        assert not names, f"{path.name} imports {names}"


def test_a_provider_process_turns_grpc_fork_handlers_off_before_grpc_loads() -> None:
    # `python -m provider_servers.NAME` loads the package first; its tools are forked under gRPC.
    probe = (
        "import os, sys, provider_servers; before = 'grpc' in sys.modules; import provider_servers.sdk; "
        "print(before, 'grpc' in sys.modules, os.environ['GRPC_ENABLE_FORK_SUPPORT'])"
    )
    env = {k: v for k, v in os.environ.items() if k != "GRPC_ENABLE_FORK_SUPPORT"}
    found = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert found.stdout.split() == ["False", "True", "false"]
