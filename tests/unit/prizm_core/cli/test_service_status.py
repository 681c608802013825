"""`prizm service status`'s table: a container's own words are shown as they are, never as markup."""

from __future__ import annotations

from rich.console import Console

from prizm_core.cli.service import _status_table
from prizm_core.services.containers import ContainerState


def test_brackets_in_the_image_and_detail_stay_and_health_is_coloured() -> None:
    state = ContainerState(
        state="running",
        healthy=True,
        detail="key [redacted] refused: [bold]x[/]",
        name="piper",
        image="a[b]",
        port=5,
    )
    console = Console(width=200, record=True, color_system="truecolor")
    console.print(_status_table([state]))
    text = console.export_text()
    assert "key [redacted] refused: [bold]x[/]" in text
    assert "a[b]" in text
    assert "healthy" in text and "[green]" not in text
