"""`prizm router --log-format json`: the router and the sidecars it starts write one JSON object
per line, and a job's lines on both carry its job id, caller, request id and trace id."""

from __future__ import annotations

import json
from pathlib import Path

from prizm.v1 import media_pb2 as media_pb
from prizm.v1 import model_service_pb2 as model_pb
from prizm.v1 import model_service_pb2_grpc as model_grpc

from prizm_core.assets import text_asset
from prizm_core.channels import insecure_channel
from tests.support.mesh import wait_routable, wait_until
from tests.support.processes import start_router

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
TRACEPARENT = f"00-{TRACE_ID}-b7ad6b7169203331-01"
SECRET = "sk-live-0123456789abcdefghij"


async def test_the_router_and_its_sidecars_log_json_lines_with_the_jobs_context(tmp_path: Path) -> None:
    config = tmp_path / "router.yaml"
    config.write_text("sidecars:\n  - provider: synthetic\n", encoding="utf-8")
    router = start_router(config, "--log-format", "json")
    try:
        await wait_routable(router.address, 1, timeout=60)
        request = model_pb.TransformRequest(
            capability=media_pb.CAPABILITY_TEXT_TO_TEXT, inputs=[text_asset("json please")]
        )
        metadata = (("traceparent", TRACEPARENT), ("x-request-id", "req-json-1"), ("prizm-caller", SECRET))
        async with insecure_channel(router.address) as channel:
            call = model_grpc.ModelServiceStub(channel).Transform(request, metadata=metadata, timeout=30)
            job = str(dict(await call.initial_metadata())["prizm-job-id"])
            assert [event async for event in call]

        async def logged() -> bool:
            return f'"job {job} completed"' in router.log_text()

        await wait_until(logged, 10, interval=0.05)
    finally:
        router.stop()
    text = router.log_text()
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]  # every line is JSON
    assert SECRET not in text
    mine = [e for e in lines if e["job_id"] == job]
    loggers = {e["logger"] for e in mine}
    assert "provider_servers.sdk.servicer" in loggers  # the sidecar's lines, in the router's stream
    for entry in mine:
        assert (entry["request_id"], entry["trace_id"], entry["caller"]) == (
            "req-json-1",
            TRACE_ID,
            "[REDACTED]",
        )
    assert {"time", "level", "logger", "message", "span_id"} <= set(lines[0])
