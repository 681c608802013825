"""The router's servicers: `RouterService`, and `ModelService` / `ProviderService` for the mesh."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
from prizm.v1 import catalog_pb2 as catalog_pb
from prizm.v1 import model_service_pb2 as model_pb
from prizm.v1 import provider_service_pb2 as provider_pb
from prizm.v1 import router_service_pb2 as router_pb

from prizm_core import __version__
from prizm_core.assets import check_inline_inputs
from prizm_core.config import ConfigError, parse_address
from prizm_core.errors import PrizmError, Reason, invalid_argument, unknown_settings
from prizm_core.router.core import Router
from prizm_core.router.dispatch import Dispatcher, deadline_of, route_of
from prizm_core.router.leases import Leases
from prizm_core.router.routing import Route
from prizm_core.security.callers import current_identity
from prizm_core.security.limits import allowed_route, visible_models
from prizm_core.stopping import Trigger

__all__ = ["MeshModelServicer", "MeshProviderServicer", "RouterServicer"]

Context = grpc.aio.ServicerContext[Any, Any]
# A ModelService request: capability, model, options, as far as routing reads it.
JobRequest = model_pb.TransformRequest | model_pb.EstimateCostRequest | model_pb.ValidateInputRequest
# A DNS name (at most 253 characters), a colon and a port, with room for IPv6 brackets.
_MAX_ADDRESS_CHARS = 262


def _endpoint_address(address: str) -> str:
    """The `address` field of a (de)registration, checked the same way for both."""
    if not address:
        raise invalid_argument([("address", "is required: the provider's host:port")])
    if len(address) > _MAX_ADDRESS_CHARS:
        raise invalid_argument([("address", f"is longer than {_MAX_ADDRESS_CHARS} characters")])
    try:
        parse_address(address)
    except ConfigError as exc:
        raise invalid_argument([("address", str(exc))]) from None
    return address


class RouterServicer:
    """`prizm.v1.RouterService`."""

    def __init__(self, dispatcher: Dispatcher, leases: Leases, stopping: Trigger) -> None:
        self.router = dispatcher.router
        self.dispatcher = dispatcher
        self.leases = leases
        self.stopping = stopping

    async def ListProviders(  # noqa: N802 - gRPC method name
        self, request: router_pb.ListProvidersRequest, context: Context
    ) -> router_pb.ListProvidersResponse:
        """Every endpoint with its health and load, and the providers not started."""
        return router_pb.ListProvidersResponse(
            providers=self.router.endpoints(), not_started=self.router.not_started_providers()
        )

    async def ListModels(  # noqa: N802 - gRPC method name
        self, request: router_pb.RouterServiceListModelsRequest, context: Context
    ) -> router_pb.RouterServiceListModelsResponse:
        """Models of the routable providers."""
        models = self.router.models(request.capability, request.provider)
        return router_pb.RouterServiceListModelsResponse(models=visible_models(current_identity(), models))

    async def Transform(  # noqa: N802 - gRPC method name
        self, request: router_pb.RouterServiceTransformRequest, context: Context
    ) -> AsyncIterator[bytes]:
        """Routes a job and relays its events byte for byte."""
        route = route_of(
            request.capability,
            request.model,
            request.routing,
            self.router.settings.default_policy,
            request.options,
        )
        job = model_pb.TransformRequest(
            capability=request.capability,
            model=request.model,
            inputs=request.inputs,
            options=request.options,
            job_id=request.job_id,
        )
        async for message in self.dispatcher.run(job, route, request.routing.wait_for_ready, context):
            yield message

    async def EstimateCost(  # noqa: N802 - gRPC method name
        self, request: router_pb.RouterServiceEstimateCostRequest, context: Context
    ) -> router_pb.RouterServiceEstimateCostResponse:
        """The estimate of the provider the job would go to."""
        check_inline_inputs(request.inputs)
        route = route_of(
            request.capability,
            request.model,
            request.routing,
            self.router.settings.default_policy,
            request.options,
        )
        route = allowed_route(current_identity(), route)  # refused as a job of the caller would be
        job = model_pb.EstimateCostRequest(
            capability=request.capability,
            model=request.model,
            inputs=request.inputs,
            options=request.options,
        )
        answer, endpoint = await self.router.estimate(job, route, deadline_of(context))
        return router_pb.RouterServiceEstimateCostResponse(
            cost=answer.cost,
            usage=answer.usage,
            model_id=answer.model_id,
            provider_id=endpoint.catalog.provider_id if endpoint.catalog else "",
        )

    async def RegisterProvider(  # noqa: N802 - gRPC method name
        self, request: router_pb.RegisterProviderRequest, context: Context
    ) -> router_pb.RegisterProviderResponse:
        """Adds a provider endpoint with a lease, or renews the lease."""
        address = _endpoint_address(request.address)
        existing = self.router.registry.get(address)
        if (
            existing is not None
            and not existing.draining
            and existing.source != router_pb.DISCOVERY_SOURCE_REGISTERED
        ):
            raise PrizmError(
                grpc.StatusCode.ALREADY_EXISTS,
                Reason.ENDPOINT_ALREADY_KNOWN,
                f"{address} is already known from another source and needs no lease",
            )
        self.router.add_endpoint(address, router_pb.DISCOVERY_SOURCE_REGISTERED, request.priority)
        # From the fields: ToTimedelta() overflows on a lease of 2**62 seconds, which is just long.
        granted = self.leases.grant(address, request.lease.seconds + request.lease.nanos / 1e9)
        response = router_pb.RegisterProviderResponse()
        response.lease.FromNanoseconds(int(granted * 1e9))
        return response

    async def DeregisterProvider(  # noqa: N802 - gRPC method name
        self, request: router_pb.DeregisterProviderRequest, context: Context
    ) -> router_pb.DeregisterProviderResponse:
        """Takes a registered endpoint out of routing; it is removed once its jobs have ended."""
        address = _endpoint_address(request.address)
        if not self.leases.release(address):
            raise PrizmError(
                grpc.StatusCode.NOT_FOUND,
                Reason.ENDPOINT_NOT_REGISTERED,
                f"no provider is registered at {address}",
            )
        self.router.retire_endpoint(address, "deregistered")
        return router_pb.DeregisterProviderResponse()

    async def WatchProviders(  # noqa: N802 - gRPC method name
        self, request: router_pb.WatchProvidersRequest, context: Context
    ) -> AsyncIterator[router_pb.WatchProvidersResponse]:
        """Every endpoint, then each change, until the caller goes away or the router stops."""
        queue = self.router.registry.watch()
        stop_listening = self.stopping.listen(lambda: queue.put_nowait(None))
        try:
            while (change := await queue.get()) is not None:
                yield change
        finally:
            stop_listening()
            self.router.registry.unwatch(queue)
        raise PrizmError(
            grpc.StatusCode.UNAVAILABLE,
            Reason.ROUTER_SHUTTING_DOWN,
            "the router is shutting down; watch another router or this one once it is back",
            retry_after_s=1.0,
        )


class MeshModelServicer:
    """`prizm.v1.ModelService` for the whole mesh, so a router can be another router's provider."""

    def __init__(self, dispatcher: Dispatcher) -> None:
        self.router = dispatcher.router
        self.dispatcher = dispatcher

    def _route(self, request: JobRequest) -> Route:
        return route_of(
            request.capability, request.model, None, self.router.settings.default_policy, request.options
        )

    async def Transform(  # noqa: N802 - gRPC method name
        self, request: model_pb.TransformRequest, context: Context
    ) -> AsyncIterator[bytes]:
        """Routes a job with the default policy and relays its events."""
        route = self._route(request)
        async for message in self.dispatcher.run(request, route, False, context):
            yield message

    async def EstimateCost(  # noqa: N802 - gRPC method name
        self, request: model_pb.EstimateCostRequest, context: Context
    ) -> model_pb.EstimateCostResponse:
        """The estimate of the provider the job would go to."""
        check_inline_inputs(request.inputs)
        route = allowed_route(current_identity(), self._route(request))
        answer, _ = await self.router.estimate(request, route, deadline_of(context))
        return answer

    async def ValidateInput(  # noqa: N802 - gRPC method name
        self, request: model_pb.ValidateInputRequest, context: Context
    ) -> model_pb.ValidateInputResponse:
        """Asks the provider the job would go to whether it accepts the input."""
        check_inline_inputs(request.inputs)
        route = allowed_route(current_identity(), self._route(request))
        deadline = deadline_of(context)
        ordered = await self.router.candidates(route, model_pb.EstimateCostRequest(), deadline, False)
        response: model_pb.ValidateInputResponse = await ordered[0].models.ValidateInput(
            request, timeout=self.router.timeout(deadline), metadata=self.router.call_metadata(request.inputs)
        )
        return response


class MeshProviderServicer:
    """`prizm.v1.ProviderService` describing the router as one provider of the whole mesh."""

    def __init__(self, router: Router) -> None:
        self.router = router

    def _status(self) -> provider_pb.ServiceStatus:
        active = sum(endpoint.in_flight for endpoint in self.router.registry)
        return provider_pb.ServiceStatus(
            state=provider_pb.SERVICE_STATE_RUNNING, detail="routing", active_jobs=active
        )

    async def GetProviderInfo(  # noqa: N802 - gRPC method name
        self, request: provider_pb.GetProviderInfoRequest, context: Context
    ) -> provider_pb.GetProviderInfoResponse:
        """The mesh as one provider: the union of its routable capabilities."""
        capabilities = sorted({cap for model in self.router.models(0) for cap in model.capabilities})
        return provider_pb.GetProviderInfoResponse(
            provider=catalog_pb.ProviderInfo(
                id="prizm-router",
                display_name="Prizm router",
                kind=catalog_pb.PROVIDER_KIND_REMOTE,
                capabilities=capabilities,
                version=__version__,
                description="A Prizm mesh, routing each job to the best of its providers.",
            )
        )

    async def ListModels(  # noqa: N802 - gRPC method name
        self, request: provider_pb.ListModelsRequest, context: Context
    ) -> provider_pb.ListModelsResponse:
        """Models of the routable providers."""
        models = self.router.models(request.capability)
        return provider_pb.ListModelsResponse(models=visible_models(current_identity(), models))

    async def GetServiceStatus(  # noqa: N802 - gRPC method name
        self, request: provider_pb.GetServiceStatusRequest, context: Context
    ) -> provider_pb.GetServiceStatusResponse:
        """The router is its own service and always running while it answers."""
        return provider_pb.GetServiceStatusResponse(status=self._status())

    async def StartService(  # noqa: N802 - gRPC method name
        self, request: provider_pb.StartServiceRequest, context: Context
    ) -> provider_pb.StartServiceResponse:
        """Nothing to start: the router is running."""
        return provider_pb.StartServiceResponse(status=self._status())

    async def StopService(  # noqa: N802 - gRPC method name
        self, request: provider_pb.StopServiceRequest, context: Context
    ) -> provider_pb.StopServiceResponse:
        """Refused: stop a router with SIGTERM."""
        raise PrizmError(
            grpc.StatusCode.FAILED_PRECONDITION,
            Reason.SERVICE_NOT_MANAGED,
            "a router is stopped with SIGTERM, not over the API",
        )

    async def Configure(  # noqa: N802 - gRPC method name
        self, request: provider_pb.ConfigureRequest, context: Context
    ) -> provider_pb.ConfigureResponse:
        """The router takes its settings from its config file only."""
        if request.settings:
            raise unknown_settings(request.settings)
        return provider_pb.ConfigureResponse()
