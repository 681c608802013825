"""The contract suite's pytest plugin: its options, each provider's server, one test per case.

Load it with `-p provider_servers.contract.plugin`; it adds `--prizm-provider NAME` (repeatable).
It is not a `pytest11` entry point on purpose: installing Prizm must not add options and fixtures
to every pytest run of every project in the environment.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import grpc
import pytest
import pytest_asyncio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prizm.v1 import model_service_pb2_grpc as model_grpc
from prizm.v1 import provider_service_pb2 as provider_pb
from prizm.v1 import provider_service_pb2_grpc as provider_grpc

from prizm_core.channels import insecure_channel
from provider_servers.contract.case import Case
from provider_servers.contract.discovery import (
    NoCasesError,
    installed_providers,
    load_cases,
    load_environment,
)
from provider_servers.contract.polling import wait_until
from provider_servers.contract.processes import ServerProcess, start_provider

__all__ = [
    "ContractTarget",
    "ProviderServers",
    "Subject",
    "contract_subject",
    "declared_cases",
    "prizm_servers",
    "pytest_addoption",
    "pytest_configure",
    "pytest_generate_tests",
]

# The suite and the providers' checks are plain modules, not test modules: rewrite their asserts so
# that a failure shows the values compared, as it does in a test module.
pytest.register_assert_rewrite("provider_servers.contract.suite")

_CASES = pytest.StashKey[dict[str, list[Case] | NoCasesError]]()


@dataclass(frozen=True)
class ContractTarget:
    """One case of one provider: what a contract test runs against."""

    provider: str
    case: Case

    @property
    def id(self) -> str:
        """The test id: the provider, and the model when the case names one."""
        return f"{self.provider}-{self.case.model}" if self.case.model else self.provider


class ProviderServers:
    """Each provider's server, started the first time a test needs it and stopped at the end.

    A provider whose cases module defines `environment()` (a context manager yielding variables)
    gets its server started inside it, with those variables: a remote provider's fake vendor and
    its key. The environment is left after the server has stopped.
    """

    def __init__(self) -> None:
        """Starts with no server running."""
        self._running: dict[str, ServerProcess] = {}
        self._environments = contextlib.ExitStack()

    def get(self, provider: str) -> ServerProcess:
        """The server of `provider` (`prizm serve-provider NAME`), started now if not yet."""
        if provider not in self._running:
            environment = load_environment(provider)
            variables = self._environments.enter_context(environment()) if environment else {}
            self._running[provider] = start_provider(provider, env=variables)
        return self._running[provider]

    def stop(self) -> None:
        """Stops every server started, then leaves their environments."""
        for server in self._running.values():
            server.stop()
        self._running.clear()
        self._environments.close()


@dataclass
class Subject:
    """A provider under test: its case, its server, a channel to it and stubs on that channel."""

    provider: str
    case: Case
    server: ServerProcess
    channel: grpc.aio.Channel
    models: model_grpc.ModelServiceAsyncStub
    control: provider_grpc.ProviderServiceAsyncStub

    async def status(self) -> provider_pb.ServiceStatus:
        """The provider's service status (active and finished jobs among it)."""
        response = await self.control.GetServiceStatus(provider_pb.GetServiceStatusRequest(), timeout=5)
        return response.status


def pytest_addoption(parser: pytest.Parser) -> None:
    """Adds `--prizm-provider NAME` (repeatable) to choose the providers the suite runs against."""
    group = parser.getgroup("prizm", "Prizm provider contract suite")
    group.addoption(
        "--prizm-provider",
        action="append",
        default=[],
        dest="prizm_providers",
        metavar="NAME",
        help="run the contract suite against this installed provider only (repeatable; "
        "default: every provider of the prizm.providers entry point group)",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Refuses a `--prizm-provider` that names no installed provider."""
    chosen = config.getoption("prizm_providers")
    unknown = sorted(set(chosen) - set(installed_providers()))
    if unknown:
        known = ", ".join(installed_providers()) or "none"
        raise pytest.UsageError(f"--prizm-provider {', '.join(unknown)}: not installed (installed: {known})")
    config.stash[_CASES] = {}


def _selected(config: pytest.Config) -> list[str]:
    return sorted(set(config.getoption("prizm_providers"))) or installed_providers()


def _cases(config: pytest.Config, provider: str) -> list[Case] | NoCasesError:
    """The provider's cases, or why it has none; loaded once a session."""
    known = config.stash[_CASES]
    if provider not in known:
        try:
            known[provider] = load_cases(provider, pytest.register_assert_rewrite)
        except NoCasesError as exc:
            known[provider] = exc
    return known[provider]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One test per selected provider (`contract_provider`) or per case of theirs (`contract_case`).

    A provider whose cases cannot be had gets no `contract_case` test; its `contract_provider`
    test fails with the reason, so a provider never passes by declaring nothing.
    """
    providers = _selected(metafunc.config)
    if "contract_provider" in metafunc.fixturenames:
        metafunc.parametrize("contract_provider", providers)
    if "contract_case" in metafunc.fixturenames:
        targets = [
            ContractTarget(provider, case)
            for provider in providers
            if isinstance(cases := _cases(metafunc.config, provider), list)
            for case in cases
        ]
        metafunc.parametrize("contract_case", targets, ids=[target.id for target in targets])


def declared_cases(config: pytest.Config, provider: str) -> list[Case]:
    """The cases `provider` declares.

    Raises:
        NoCasesError: It declares none, or they cannot load (the same error every time in a session).
    """
    cases = _cases(config, provider)
    if isinstance(cases, NoCasesError):
        raise cases
    return cases


@pytest.fixture(scope="session")
def prizm_servers() -> Iterator[ProviderServers]:
    """Each provider's server, started on first use and stopped at the end of the session."""
    servers = ProviderServers()
    yield servers
    servers.stop()


@pytest_asyncio.fixture
async def contract_subject(
    contract_case: ContractTarget, prizm_servers: ProviderServers
) -> AsyncIterator[Subject]:
    """The provider of `contract_case`, serving (health SERVING), with a channel and stubs."""
    server = prizm_servers.get(contract_case.provider)
    channel = insecure_channel(server.address)
    health = health_pb2_grpc.HealthStub(channel)
    serving = health_pb2.HealthCheckResponse.SERVING

    async def ready() -> bool:
        answer = await health.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)  # type: ignore[attr-defined]
        return bool(answer.status == serving)

    await wait_until(ready, timeout=60, interval=0.05)
    yield Subject(
        provider=contract_case.provider,
        case=contract_case.case,
        server=server,
        channel=channel,
        models=model_grpc.ModelServiceStub(channel),
        control=provider_grpc.ProviderServiceStub(channel),
    )
    await channel.close()
