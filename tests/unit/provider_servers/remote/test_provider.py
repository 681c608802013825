"""`RemoteProvider`: key and base URL from the environment or `Configure`, and health from a free
endpoint of the vendor."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence

import grpc
import pytest
from aiohttp import web

from prizm_core.errors import PrizmError, Reason
from provider_servers.remote import FakeVendor, RemoteProvider, Vendor
from provider_servers.sdk import Capability, Event, Job, ModelSpec

KEY = "sk-CANARY-51c0ffee9a7d3e21"
ACME = Vendor("acme", "ACME_API_KEY", "ACME_BASE_URL", "https://api.acme.invalid/v1")


class Health(FakeVendor):
    def __init__(self) -> None:
        super().__init__()
        self.status = 200

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/v1/models", self.models)

    async def models(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"error": {"message": "no"}} if self.status >= 400 else {}, status=self.status
        )


class Acme(RemoteProvider):
    id = "acme"
    display_name = "Acme"
    vendor = ACME
    health_path = "/models"

    def models(self) -> Sequence[ModelSpec]:
        return [ModelSpec("m", "M", "A model.", (Capability.TEXT_TO_TEXT,))]

    async def transform(self, job: Job) -> AsyncIterator[Event]:
        raise AssertionError("not called")
        yield


@pytest.fixture
def fake() -> Iterator[Health]:
    with Health() as vendor:
        yield vendor


def test_key_and_base_url_come_from_the_vendors_variables() -> None:
    provider = Acme.from_environment({"ACME_API_KEY": KEY, "ACME_BASE_URL": "http://127.0.0.1:9/v1"})
    assert (provider.api_key, provider.base_url) == (KEY, "http://127.0.0.1:9/v1")
    assert Acme.from_environment({"ACME_API_KEY": KEY}).base_url == "https://api.acme.invalid/v1"


def test_without_its_key_it_says_which_variable_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ACME_API_KEY", raising=False)
    assert Acme.missing() == ["set ACME_API_KEY to use acme"]
    monkeypatch.setenv("ACME_API_KEY", KEY)
    assert Acme.missing() == []
    monkeypatch.setenv("ACME_BASE_URL", "api.acme.invalid")
    assert Acme.missing() == ["ACME_BASE_URL must be an http:// or https:// URL"]


async def test_configure_applies_key_and_base_url_without_echoing_them(fake: Health) -> None:
    provider = Acme("sk-CANARY-old0000000", f"{fake.url}/v1")
    assert provider.configure({"api_key": KEY, "base_url": f"{fake.url}/v1/"}) == ["api_key", "base_url"]
    assert (await provider.check_health()).serving
    await provider.close()
    assert fake.requests("GET", "/v1/models")[0].headers["Authorization"] == f"Bearer {KEY}"


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"api_key": " "}, "settings.api_key"),
        ({"base_url": f"ftp://{KEY}@x"}, "settings.base_url"),
        ({"api_key": KEY, "model": "x"}, "settings.model"),
    ],
)
def test_configure_refuses_bad_settings_naming_the_field_only(settings: dict[str, str], field: str) -> None:
    with pytest.raises(PrizmError) as refused:
        Acme(KEY).configure(settings)
    assert refused.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [name for name, _ in refused.value.field_violations] == [field]
    assert KEY not in str(refused.value) and KEY not in str(refused.value.field_violations)


@pytest.mark.parametrize(
    ("status", "serving", "start"),
    [
        (200, True, "acme answers at 127.0.0.1"),
        (401, False, "UPSTREAM_AUTH_FAILED: acme refused the key (HTTP 401)"),
        (403, False, "UPSTREAM_AUTH_FAILED: acme refused the key (HTTP 403)"),
        (503, False, "UPSTREAM_UNAVAILABLE: acme is unavailable (HTTP 503)"),
    ],
)
async def test_health_is_one_free_get_of_the_health_path(
    fake: Health, status: int, serving: bool, start: str
) -> None:
    fake.status = status
    provider = Acme(KEY, f"{fake.url}/v1")
    await provider.warm_up()
    health = await provider.check_health()
    await provider.close()
    assert health.serving is serving and health.detail.startswith(start), health
    assert [(c.method, c.path) for c in fake.calls] == [("GET", "/v1/models")], "no retry, nothing paid"


async def test_an_unreachable_vendor_is_not_serving() -> None:
    provider = Acme(KEY, "http://127.0.0.1:9/v1")
    health = await provider.check_health()
    await provider.close()
    assert not health.serving and health.detail.startswith(f"{Reason.UPSTREAM_UNAVAILABLE}: acme")


def test_a_fake_that_cannot_start_says_why() -> None:
    class Broken(FakeVendor):
        def routes(self, app: web.Application) -> None:
            raise ValueError("no routes today")

    with pytest.raises(RuntimeError, match="Broken did not start: no routes today"), Broken():
        pass
