"""Calls between services: through the Dapr sidecar, or in-process in `taskstream up`.

Either way a call is an HTTP request to the target app's internal API, so the same routes and
the same client code run in both modes; only the httpx transport underneath differs.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError
from starlette.types import ASGIApp

from taskstream.errors import Conflict, InvalidInput, NotFound, TaskstreamError, Timeout
from taskstream.persistence.db import current_statement_timeout
from taskstream.settings import Settings

APP_TOKEN_HEADER = "dapr-api-token"
# The statement timeout (ms) of the client request a call is made for; the target applies it.
STATEMENT_TIMEOUT_HEADER = "x-taskstream-statement-timeout-ms"
INVOKE_TIMEOUT_SECONDS = 10.0


Req = TypeVar("Req", bound=BaseModel)
Resp = TypeVar("Resp", bound=BaseModel)


class ServiceUnavailable(TaskstreamError):
    """The target service did not answer; callers retry later (or their consumers RETRY)."""


@dataclass(frozen=True)
class Endpoint(Generic[Req, Resp]):
    """One method of a service's internal API: who serves it, where, and its two models.

    `path` names request fields (by their wire name) in braces; the other fields travel as the
    query string (GET, DELETE: scalars only) or as the JSON body (POST). Client and server are
    both derived from this one declaration (contracts/), so a path is spelled once.
    """

    service: str
    method: Literal["GET", "POST", "DELETE"]
    path: str
    request: type[Req]
    response: type[Resp]

    @property
    def path_fields(self) -> tuple[str, ...]:
        """The wire names of the request fields carried in the path."""
        return tuple(name for _, name, _, _ in string.Formatter().parse(self.path) if name)

    def target(self, request: Req) -> tuple[str, dict[str, Any]]:
        """The concrete path of this call and the fields left for the query string or body."""
        fields = request.model_dump(mode="json", by_alias=True, exclude_none=True)
        # Path values are ids; quoting keeps any other text from changing the route.
        values = {name: quote(str(fields.pop(name)), safe="") for name in self.path_fields}
        return self.path.format_map(values), fields


def error_from_response(response: httpx.Response) -> TaskstreamError:
    """The error a failed internal call carries, as the target service raised it."""
    try:
        body = response.json()
        code, message = str(body["code"]), str(body["message"])
    except (ValueError, KeyError, TypeError):
        return ServiceUnavailable(f"{response.request.url.path} answered {response.status_code}")
    if code == "BAD_USER_INPUT":
        field, _, rest = message.partition(": ")
        return InvalidInput(field, rest or message)
    known: dict[str, type[TaskstreamError]] = {
        "NOT_FOUND": NotFound,
        "CONFLICT": Conflict,
        "TIMEOUT": Timeout,
    }
    return known.get(code, ServiceUnavailable).from_message(message)


class ServiceInvoker:
    """Invokes methods of other services by app id."""

    def __init__(self, clients: Mapping[str, httpx.AsyncClient]) -> None:
        self._clients = dict(clients)
        self._local_token: str | None = None

    @classmethod
    def through_dapr(cls, settings: Settings, app_ids: list[str]) -> ServiceInvoker:
        """Calls go to the local sidecar, which finds the target app (mTLS, retries, breakers)."""
        headers = {}
        if settings.dapr_api_token is not None:
            headers[APP_TOKEN_HEADER] = settings.dapr_api_token.get_secret_value()
        base = f"http://127.0.0.1:{settings.dapr_http_port}/v1.0/invoke"
        return cls(
            {
                app_id: httpx.AsyncClient(
                    base_url=f"{base}/{app_id}/method",
                    headers=headers,
                    timeout=INVOKE_TIMEOUT_SECONDS,
                )
                for app_id in app_ids
            }
        )

    @classmethod
    def in_process(cls, *, app_token: str | None) -> ServiceInvoker:
        """Calls go straight to app objects living in this process, registered with add_local."""
        invoker = cls({})
        invoker._local_token = app_token
        return invoker

    def add_local(self, app_id: str, app: ASGIApp) -> None:
        """Route calls for `app_id` to this in-process ASGI app."""
        headers = {APP_TOKEN_HEADER: self._local_token} if self._local_token else {}
        self._clients[app_id] = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url=f"http://{app_id}.internal",
            headers=headers,
            timeout=INVOKE_TIMEOUT_SECONDS,
        )

    async def call(
        self, app_id: str, method: str, path: str, *, json: Any = None, params: Any = None
    ) -> Any:
        """The JSON answer of the target method; its error re-raised, or ServiceUnavailable."""
        client = self._clients.get(app_id)
        if client is None:
            raise ServiceUnavailable(f"no route to service {app_id!r}")
        timeout = current_statement_timeout()
        headers = {STATEMENT_TIMEOUT_HEADER: str(round(timeout * 1000))} if timeout else None
        try:
            response = await client.request(method, path, json=json, params=params, headers=headers)
        except httpx.HTTPError as error:
            raise ServiceUnavailable(f"{app_id} is unreachable: {error}") from error
        if response.status_code >= 400:
            raise error_from_response(response)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    async def invoke(self, endpoint: Endpoint[Req, Resp], request: Req) -> Resp:
        """Call `endpoint` with a typed request; its typed answer, or the error it raised."""
        path, fields = endpoint.target(request)
        body = {"json": fields} if endpoint.method == "POST" else {"params": fields}
        answer = await self.call(endpoint.service, endpoint.method, path, **body)
        try:
            return endpoint.response.model_validate(answer)
        except ValidationError as error:
            # A peer of another version, most likely mid-deploy: callers retry later.
            raise ServiceUnavailable(
                f"{endpoint.service} answered {endpoint.method} {endpoint.path} with a body "
                f"that does not fit {endpoint.response.__name__}: {error.errors()[0]['msg']}"
            ) from error

    async def close(self) -> None:
        """Close every client."""
        for client in self._clients.values():
            await client.aclose()
