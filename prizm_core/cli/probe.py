"""`prizm health-probe`: one `grpc.health.v1` Check, for container HEALTHCHECKs and scripts.

It imports only grpc and the health stubs (never the router), so Docker can run it every few
seconds in every container without paying for the rest of Prizm.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

__all__ = ["DEFAULT_TIMEOUT_S", "Probe", "add_probe_command", "probe"]

DEFAULT_TIMEOUT_S = 3.0
EXIT_SERVING = 0
EXIT_NOT_SERVING = 1
_SERVING = health_pb2.HealthCheckResponse.SERVING


@dataclass(frozen=True)
class Probe:
    """What one health check found.

    Attributes:
        serving: True only when the server answered SERVING for the service.
        line: One line saying what was found, for a person reading `docker inspect`.
    """

    serving: bool
    line: str


def _what(service: str) -> str:
    return f"service {service!r}" if service else "the server"


def _failed(error: grpc.RpcError, address: str, service: str, timeout_s: float) -> Probe:
    """Words for a Check that did not answer with a status."""
    code = error.code() if isinstance(error, grpc.Call) else None
    if code == grpc.StatusCode.NOT_FOUND:
        return Probe(False, f"unknown: {address} serves no {_what(service)} (NOT_FOUND)")
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return Probe(False, f"timeout: no answer from {address} within {timeout_s:g}s")
    if code == grpc.StatusCode.UNAVAILABLE:
        return Probe(False, f"unreachable: nothing answers at {address}")
    if code == grpc.StatusCode.UNIMPLEMENTED:
        return Probe(False, f"no health service at {address} (UNIMPLEMENTED)")
    name = code.name if code is not None else "UNKNOWN"
    return Probe(False, f"failed: {address} answered {name}")


def _channel(
    address: str, options: list[tuple[str, int | str]], tls: tuple[Path | None, ...]
) -> grpc.Channel:
    """Plaintext, or TLS with `tls` = (CA, certificate, key) files; read here, not through
    prizm_core.security (which loads pydantic), to keep the probe quick."""
    if not any(tls):
        return grpc.insecure_channel(address, options=options)
    ca, cert, key = (path.read_bytes() if path else None for path in tls)
    credentials = grpc.ssl_channel_credentials(root_certificates=ca, private_key=key, certificate_chain=cert)
    return grpc.secure_channel(address, credentials, options=options)


def probe(
    address: str,
    service: str = "",
    timeout_s: float = DEFAULT_TIMEOUT_S,
    tls: tuple[Path | None, Path | None, Path | None] = (None, None, None),
    server_name: str = "",
) -> Probe:
    """Asks the server at `address` whether `service` is serving; never raises for a failed call.

    Args:
        address: `host:port` of a gRPC server with `grpc.health.v1.Health`.
        service: The service name to ask about; "" is the whole server.
        timeout_s: Deadline of the one call, connecting included.
        tls: CA, client certificate and key files for a server that speaks TLS; all None for
            plaintext.
        server_name: The name to check the server's certificate against, when it is not the
            host dialled (a Pod probing itself on 127.0.0.1 with a certificate for its Service).

    Returns:
        Whether it is SERVING, and one line saying what was found.
    """
    # One connection attempt, no retries or proxies: a probe answers for this moment only.
    options: list[tuple[str, int | str]] = [("grpc.enable_retries", 0), ("grpc.enable_http_proxy", 0)]
    if server_name:
        options.append(("grpc.ssl_target_name_override", server_name))
    with _channel(address, options, tls) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        request = health_pb2.HealthCheckRequest(service=service)
        try:
            # The grpcio-health-checking stubs declare HealthStub without its methods.
            answer = stub.Check(request, timeout=timeout_s)  # type: ignore[attr-defined]
        except grpc.RpcError as error:
            return _failed(error, address, service, timeout_s)
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status)
    return Probe(answer.status == _SERVING, f"{status}: {_what(service)} at {address}")


def _timeout(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number of seconds above 0: {text!r}")
    return value


def _address(text: str) -> str:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"not a host:port address: {text!r}")
    return text


def _run(args: argparse.Namespace) -> int:
    try:
        found = probe(
            args.address, args.service, args.timeout, (args.ca, args.cert, args.key), args.server_name
        )
    except OSError as exc:
        found = Probe(False, f"cannot read a TLS file: {exc.strerror or exc}: {exc.filename}")
    print(found.line, file=sys.stdout if found.serving else sys.stderr)
    return EXIT_SERVING if found.serving else EXIT_NOT_SERVING


def add_probe_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds `health-probe ADDRESS [SERVICE] [--timeout S]` to the `prizm` command."""
    command = commands.add_parser(
        "health-probe",
        help="check a server's gRPC health once (exit 0 when SERVING)",
        description=(
            "One grpc.health.v1 Check. Exits 0 when the server answers SERVING, 1 otherwise "
            "(not serving, unknown service, unreachable, timeout), printing one line why."
        ),
    )
    command.add_argument("address", type=_address, metavar="ADDRESS", help="host:port of the server")
    command.add_argument("service", nargs="?", default="", help='service name (default "": the server)')
    command.add_argument(
        "--timeout",
        type=_timeout,
        default=DEFAULT_TIMEOUT_S,
        metavar="S",
        help=f"seconds to wait for the answer (default {DEFAULT_TIMEOUT_S:g})",
    )
    for flag, about in (
        ("--ca", "CA of the server's certificate: speak TLS"),
        ("--cert", "client certificate, for a server that requires one"),
        ("--key", "the client certificate's key"),
    ):
        command.add_argument(flag, type=Path, metavar="PEM", help=about)
    command.add_argument(
        "--server-name", default="", metavar="NAME", help="check the certificate against NAME, not the host"
    )
    command.set_defaults(handler=_run)
