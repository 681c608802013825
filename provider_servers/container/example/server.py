"""A tiny HTTP service for the container provider's tests: it upper-cases text (stdlib only).

`POST /v1/shout` answers at once; `POST /v1/jobs` queues a job that takes `seconds`, polled at
`GET /v1/jobs/ID` and cancelled with `POST /v1/jobs/ID/cancel`; `GET /v1/jobs` lists every job, so
a test sees that a cancel reached the container.
"""

import json
import os
import signal
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Job:
    """A queued job: done `seconds` after it started, unless cancelled."""

    text: str
    seconds: float
    started: float = field(default_factory=time.monotonic)
    cancelled: bool = False

    def view(self, job_id: str) -> dict[str, object]:
        """The job as `GET /v1/jobs/ID` shows it."""
        elapsed = time.monotonic() - self.started
        status = "canceled" if self.cancelled else "succeeded" if elapsed >= self.seconds else "running"
        view: dict[str, object] = {"id": job_id, "status": status}
        view["percent"] = min(100.0, 100.0 * elapsed / self.seconds)
        if status == "succeeded":
            view["text"] = self.text.upper()
        return view


JOBS: dict[str, Job] = {}
LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    """The service's API (see the module's docstring); `GET /health` answers 200."""

    def _answer(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> dict[str, object]:
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length) or b"{}")
        if not isinstance(body, dict) or not isinstance(body.get("text", ""), str):
            raise ValueError('send {"text": ...}')
        return body

    def do_GET(self) -> None:
        parts = self.path.strip("/").split("/")
        with LOCK:
            if self.path == "/health":
                self._answer(200, {"status": "ok"})
            elif self.path == "/v1/jobs":
                self._answer(200, [job.view(job_id) for job_id, job in JOBS.items()])
            elif parts[:2] == ["v1", "jobs"] and len(parts) == 3 and parts[2] in JOBS:
                self._answer(200, JOBS[parts[2]].view(parts[2]))
            else:
                self._answer(404, {"error": {"message": f"no such path {self.path}"}})

    def do_POST(self) -> None:
        parts = self.path.strip("/").split("/")
        try:
            body = self._body()
        except ValueError as exc:
            self._answer(400, {"error": {"message": str(exc)}})
            return
        with LOCK:
            if self.path == "/v1/shout":
                self._answer(200, {"text": str(body["text"]).upper()})
            elif self.path == "/v1/jobs":
                job_id = uuid.uuid4().hex
                JOBS[job_id] = Job(str(body["text"]), float(str(body.get("seconds", 30))))
                self._answer(200, {"id": job_id})
            elif parts[:2] == ["v1", "jobs"] and parts[3:] == ["cancel"] and parts[2] in JOBS:
                JOBS[parts[2]].cancelled = True
                self._answer(200, JOBS[parts[2]].view(parts[2]))
            else:
                self._answer(404, {"error": {"message": f"no such path {self.path}"}})


# As a container's PID 1 it gets no default SIGTERM handling: `docker stop` would wait, then kill.
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
# Host networking: loopback only, on the port the container provider chose.
ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
