"""nginx (Debian's package) as the native gRPC proxy baseline: `grpc_pass` to one provider."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Nginx", "nginx_available"]

_CONFIG = """daemon off;
worker_processes {workers};
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 8192; }}
http {{
  access_log off;
  client_body_temp_path {root}/body;
  proxy_temp_path {root}/proxy;
  fastcgi_temp_path {root}/fastcgi;
  uwsgi_temp_path {root}/uwsgi;
  scgi_temp_path {root}/scgi;
  http2_max_concurrent_streams 2000;
  upstream provider {{ server {upstream}; keepalive 256; }}
  server {{
    listen 127.0.0.1:{port} http2;
    client_max_body_size 0;
    location / {{
      grpc_pass grpc://provider;
      grpc_read_timeout 600s;
      grpc_send_timeout 600s;
    }}
  }}
}}
"""


def nginx_available() -> bool:
    """Whether an nginx binary is on the PATH."""
    return shutil.which("nginx") is not None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Nginx:
    """An nginx process in front of `upstream`, with its files in a temporary folder."""

    upstream: str
    workers: int = 1
    process: subprocess.Popen[bytes] | None = None
    address: str = ""

    def start(self) -> Nginx:
        """Writes the config and starts nginx in the foreground (its own PID to stop)."""
        root = Path(tempfile.mkdtemp(prefix="prizm-nginx-"))
        port = _free_port()
        config = root / "nginx.conf"
        config.write_text(_CONFIG.format(root=root, upstream=self.upstream, port=port, workers=self.workers))
        binary = shutil.which("nginx") or "nginx"
        self.process = subprocess.Popen([binary, "-c", str(config), "-e", str(root / "error.log")])
        self.address = f"127.0.0.1:{port}"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    return self
            time.sleep(0.05)
        raise RuntimeError(f"nginx did not listen: {(root / 'error.log').read_text()}")

    def pids(self) -> list[int]:
        """The master and worker PIDs."""
        if self.process is None:
            return []
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return (
            [self.process.pid, *(int(p) for p in children.read_text().split())] if children.exists() else []
        )

    def stop(self) -> None:
        """Stops nginx (SIGTERM to the master it started)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
