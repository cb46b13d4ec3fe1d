"""FastAPI dependencies: the service state, the caller's tenant and writer standing (from
its API key), and the ``Memory`` bound to both. Routes declare what they need by type:

    def route(memory: TenantMemory, state: State) -> ...
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from remem import Memory
from remem.errors import AmbiguousCredentials, Unauthorized
from remem.model import Writer
from remem.service.state import ServiceState

bearer = HTTPBearer(auto_error=False, description="An API key from `remem keys create`.")
api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False)


async def service_state(request: Request) -> ServiceState:
    """The state ``create_app`` put on the app."""
    state: ServiceState = request.app.state.remem
    return state


State = Annotated[ServiceState, Depends(service_state)]


def api_caller(
    state: State,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
    api_key: Annotated[str | None, Security(api_key_header)],
) -> tuple[str, Writer]:
    """The tenant of the request's API key (Bearer or X-API-Key) and what its writes may
    claim; 401 without a valid key.

    Two different keys are a 400 whether or not either is valid: picking one would act
    for a tenant the caller may not have meant (and would tell which key works).
    Without auth (development mode) every request works in the configured tenant, as an
    owner without system turns.
    """
    if not state.auth:
        return state.tenant, Writer()
    assert state.keys is not None
    bearer_token = credentials.credentials if credentials else None
    if bearer_token and api_key and bearer_token != api_key:
        raise AmbiguousCredentials(
            "two different API keys (Authorization and X-API-Key): send one of them"
        )
    token = bearer_token or api_key
    if not token:
        raise Unauthorized("an API key is required: Authorization: Bearer <key>")
    key = state.keys.authenticate(token)
    if key is None:
        raise Unauthorized("unknown or revoked API key")
    return key.tenant, key.writer


def tenant_memory(
    state: State, caller: Annotated[tuple[str, Writer], Depends(api_caller)]
) -> Memory:
    """The ``Memory`` bound to the caller's tenant and writer: the engine keeps tenants
    apart and decides what each write may claim."""
    return state.tenants.memory(*caller)


TenantMemory = Annotated[Memory, Depends(tenant_memory)]
