"""The client of one Cog HTTP server: health, schema, and predictions submitted, followed, cancelled."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import grpc
import httpx

from prizm_core.errors import PrizmError, Reason
from provider_servers.cog.outputs import output_items
from provider_servers.remote import vendor_error
from provider_servers.replicate.mapping import Prediction, log_lines, parse_prediction, progress_fraction
from provider_servers.sdk import Progress

__all__ = ["CogClient", "PredictionLostError", "ProgressRelay"]

log = logging.getLogger(__name__)

# Webhooks for logs and outputs come at most every 500 ms: a silence this long makes us ask the
# server whether the prediction is still running.
SILENCE_S = 5.0
CANCEL_TIMEOUT_S = 5.0
# How long a prediction waits for a busy slot (409) before the job is refused as overloaded.
BUSY_WAIT_S = 2.0
_BUSY_POLL_S = 0.05
_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
# The server says so at `/openapi.json` when it was started without `.cog/openapi_schema.json`.
_NO_SCHEMA = "OpenAPI schema not available"


class PredictionLostError(PrizmError):
    """The server stopped, or no longer runs the prediction, before it reported its end."""

    def __init__(self, message: str) -> None:
        super().__init__(grpc.StatusCode.UNAVAILABLE, Reason.SERVICE_FAILED, message, retry_after_s=1.0)


class CogClient:
    """Talks to the Cog server at `base_url` (`http://127.0.0.1:5000`), on this host."""

    def __init__(self, base_url: str, name: str = "cog") -> None:
        self.base_url = base_url.rstrip("/")
        self.name = name
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=_TIMEOUT)

    async def close(self) -> None:
        """Closes the connections."""
        await self._http.aclose()

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request; no answer is the server's unavailability (`UPSTREAM_UNAVAILABLE`)."""
        try:
            return await self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise vendor_error(
                None, f"{self.base_url}: {type(exc).__name__}: {exc}", vendor=self.name
            ) from None

    def _json(self, response: httpx.Response) -> object:
        """The body as JSON; anything else is not a Cog server answering (`UPSTREAM_UNAVAILABLE`)."""
        try:
            return response.json()
        except ValueError:
            words = f"{response.request.url} answered HTTP {response.status_code} that is not JSON"
            raise vendor_error(502, words, vendor=self.name) from None

    async def health(self) -> dict[str, Any]:
        """`GET /health-check`: `status` (READY, BUSY, STARTING, SETUP_FAILED, DEFUNCT, UNHEALTHY)
        and `setup` (with its `logs`)."""
        body = self._json(await self._send("GET", "/health-check"))
        return body if isinstance(body, dict) else {}

    async def openapi(self) -> dict[str, Any] | None:
        """The server's OpenAPI document; None when it runs without one (every input accepted)."""
        response = await self._send("GET", "/openapi.json")
        body = self._json(response)
        if not isinstance(body, dict) or body.get("error") == _NO_SCHEMA:
            return None
        if response.status_code != httpx.codes.OK:
            raise vendor_error(response.status_code, str(body.get("error", body)), vendor=self.name)
        return body

    async def submit(self, prediction_id: str, inputs: Mapping[str, object], webhook: str) -> None:
        """Starts the prediction with `PUT /predictions/{id}` and `Prefer: respond-async`.

        The PUT is Cog's idempotent create: a retry with the same id never starts a second
        prediction. Its updates go to `webhook`.

        Raises:
            PrizmError: INVALID_ARGUMENT `UPSTREAM_REJECTED` when the server refuses the input (422),
                RESOURCE_EXHAUSTED `PROVIDER_OVERLOADED` when all its slots are busy (409),
                UNAVAILABLE when it cannot be reached or is not set up.
        """
        body = {"input": dict(inputs), "webhook": webhook}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + BUSY_WAIT_S
        while True:
            response = await self._send(
                "PUT", f"/predictions/{prediction_id}", json=body, headers={"Prefer": "respond-async"}
            )
            # Cog sends a prediction's end before its slot is free again: a job that follows at once
            # can find it busy for a moment. Nothing was started, so asking again is safe.
            if response.status_code != httpx.codes.CONFLICT or loop.time() >= deadline:
                break
            await asyncio.sleep(_BUSY_POLL_S)
        if response.status_code == httpx.codes.CONFLICT:
            raise PrizmError(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                Reason.PROVIDER_OVERLOADED,
                f"{self.name}: every prediction slot of the Cog server is busy",
                retry_after_s=1.0,
            )
        if response.status_code >= httpx.codes.BAD_REQUEST:
            raise vendor_error(response.status_code, _error_words(response), vendor=self.name)
        log.info("%s prediction %s submitted", self.name, prediction_id)

    async def cancel(self, prediction_id: str) -> None:
        """`POST /predictions/{id}/cancel`; a failure is only logged (the job ends all the same)."""
        try:
            response = await asyncio.wait_for(
                self._send("POST", f"/predictions/{prediction_id}/cancel"), CANCEL_TIMEOUT_S
            )
            log.info("%s prediction %s: cancel answered %s", self.name, prediction_id, response.status_code)
        except (PrizmError, TimeoutError) as exc:
            log.warning("%s prediction %s: cancel failed: %s", self.name, prediction_id, exc)

    async def follow(self, queue: asyncio.Queue[dict[str, Any]]) -> AsyncIterator[Prediction]:
        """The prediction as each webhook reports it, until it has ended.

        Raises:
            PredictionLostError: The server went away, or went idle without reporting the end.
        """
        idle_checks = 0
        while True:
            try:
                body = await asyncio.wait_for(queue.get(), SILENCE_S)
            except TimeoutError:
                idle_checks = await self._check_running(idle_checks)
                continue
            idle_checks = 0
            try:
                prediction = parse_prediction(body)
            except ValueError as exc:
                log.warning("%s: a webhook that is no prediction: %s", self.name, exc)
                continue
            yield prediction
            if prediction.finished:
                return

    async def settle(self, prediction_id: str, queue: asyncio.Queue[dict[str, Any]]) -> None:
        """Cancels the prediction and waits (a few seconds at most) for the server to say it ended, so
        that its slot is free for the next job when this one's ends."""
        await self.cancel(prediction_id)
        try:
            async with asyncio.timeout(CANCEL_TIMEOUT_S):
                async for prediction in self.follow(queue):
                    if prediction.finished:
                        log.info("%s prediction %s ended %s", self.name, prediction_id, prediction.status)
        except (TimeoutError, PrizmError):
            log.warning(
                "%s prediction %s: its end was not reported after the cancel", self.name, prediction_id
            )

    async def _check_running(self, idle_checks: int) -> int:
        """After a silence: whether the server still runs a prediction; raises when it cannot."""
        try:
            status = str((await self.health()).get("status", ""))
        except PrizmError:
            raise PredictionLostError(
                f"{self.name}: the Cog server stopped answering during the prediction"
            ) from None
        if status in ("SETUP_FAILED", "DEFUNCT", "STARTING"):
            raise PredictionLostError(f"{self.name}: the Cog server is {status} and lost the prediction")
        # Idle twice in a row, well after the last webhook: the end was never going to come.
        idle_checks = idle_checks + 1 if status == "READY" else 0
        if idle_checks >= 2:
            raise PredictionLostError(
                f"{self.name}: the Cog server is idle but never reported the prediction's end"
            )
        return idle_checks


def _error_words(response: httpx.Response) -> str:
    """The server's complaint: FastAPI-style `detail` items (`loc`: `msg`) or its `error`."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:300] or f"HTTP {response.status_code}"
    if isinstance(body, dict) and isinstance(body.get("detail"), list):
        items = [d for d in body["detail"] if isinstance(d, dict)]
        return "; ".join(
            f"{'.'.join(str(p) for p in d.get('loc', [])[2:])}: {d.get('msg', '')}" for d in items
        )
    if isinstance(body, dict) and body.get("error"):
        return str(body["error"])
    return str(body)[:300]


@dataclass
class ProgressRelay:
    """What a prediction's webhooks add, one after another: new log lines and the fraction done as
    progress, and the items an iterator output has yielded since.

    Webhooks come at most every 500 ms and may arrive out of order: an older body (its log a prefix
    of what was seen) adds nothing.

    Attributes:
        stream: Whether output items are relayed as they come (an iterator of files).
        seen: The log relayed so far.
        fraction: The last fraction done (tqdm bars in the log), if any.
        emitted: Output items relayed so far.
    """

    stream: bool
    seen: str = ""
    fraction: float | None = None
    emitted: int = 0

    def events(self, prediction: Prediction) -> Iterator[Progress | object]:
        """Progress for what is new in `prediction`, then its new output items (raw, to be read)."""
        if prediction.logs.startswith(self.seen):
            lines = log_lines(self.seen, prediction.logs)
            fraction = progress_fraction(prediction.logs)
            self.seen = prediction.logs
            if lines or (fraction is not None and fraction != self.fraction):
                self.fraction = fraction if fraction is not None else self.fraction
                message = lines[-1] if lines else ""
                yield Progress(fraction=self.fraction, stage=prediction.status, message=message, logs=lines)
        items = output_items(prediction.output) if prediction.status != "failed" else []
        while self.stream and self.emitted < len(items):
            yield items[self.emitted]
            self.emitted += 1
