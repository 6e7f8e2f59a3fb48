"""Authentication at the edge: one interceptor verifies each call's bearer
token (`authorization: Bearer <jwt>`) with PyJWT and makes the caller's
Principal (gateway/app/access.py), which the servicers hand to the handlers.

- Auth is on when OMS_AUTH_JWT_SECRET (HS256) or OMS_AUTH_JWT_PUBLIC_KEY
  (RS256/ES256) is set; `exp` and `sub` are required, `iss` and `aud` are
  checked when OMS_AUTH_JWT_ISSUER / OMS_AUTH_JWT_AUDIENCE are set.
- Health checks answer without a token; everything else (reflection
  included) needs a valid one: else UNAUTHENTICATED.
- A call forwarded to the partition's owner carries the caller's own token,
  which the owner verifies again: identity crosses a hop only as the signed
  token, never as a header a client could set (x-oms-forwarded only stops a
  second hop).
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from contextvars import ContextVar

import grpc
import jwt

from gateway.api.errors import abort
from gateway.app.access import UNAUTHENTICATED_ADMIN, Principal
from gateway.app.errors import Unauthenticated
from topology.config import Config

AUTHORIZATION = "authorization"
OPEN_PREFIX = "/grpc.health.v1.Health/"
# Bounded: a token is a few hundred bytes.
MAX_TOKEN_LENGTH = 8192

_principal: ContextVar[Principal] = ContextVar("oms_principal", default=UNAUTHENTICATED_ADMIN)


def principal() -> Principal:
    """The caller of the call being served (admin when auth is off)."""
    return _principal.get()


def bearer(metadata: object) -> str | None:
    for key, value in metadata or ():  # type: ignore[attr-defined]
        if key == AUTHORIZATION and isinstance(value, str):
            return value
    return None


class TokenVerifier:
    def __init__(self, settings: Config) -> None:
        if settings.auth_jwt_secret:
            self._key: str | bytes = settings.auth_jwt_secret
            self._algorithms = ["HS256"]
        else:
            assert settings.auth_jwt_public_key is not None
            self._key = settings.auth_jwt_public_key.read_bytes()
            self._algorithms = ["RS256", "ES256"]
        self._issuer = settings.auth_jwt_issuer
        self._audience = settings.auth_jwt_audience

    def principal(self, header: str | None) -> Principal:
        if not header:
            raise Unauthenticated("no bearer token: send `authorization: Bearer <token>`")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token or len(token) > MAX_TOKEN_LENGTH:
            raise Unauthenticated("the authorization header must be `Bearer <token>`")
        required = ["exp", "sub"] + (["iss"] if self._issuer else []) + (["aud"] if self._audience else [])
        try:
            claims = jwt.decode(
                token.strip(),
                self._key,
                algorithms=self._algorithms,
                issuer=self._issuer,
                audience=self._audience,
                options={"require": required, "verify_aud": self._audience is not None},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("the token has expired") from None
        except jwt.InvalidTokenError as error:
            raise Unauthenticated(f"invalid token: {error}") from None
        return Principal.of_claims(claims)


class Authenticate(grpc.aio.ServerInterceptor):
    """Sets the call's Principal from its token, or fails it UNAUTHENTICATED
    (ErrorStatuses, outside this one, answers with the status)."""

    def __init__(self, verifier: TokenVerifier) -> None:
        self._verifier = verifier

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None or details.method.startswith(OPEN_PREFIX):
            return handler
        header = bearer(details.invocation_metadata)
        if handler.unary_unary is not None:
            return handler._replace(unary_unary=self._unary(handler.unary_unary, header))
        if handler.unary_stream is not None and inspect.isasyncgenfunction(handler.unary_stream):
            return handler._replace(unary_stream=self._stream(handler.unary_stream, header))
        if handler.stream_stream is not None and inspect.isasyncgenfunction(handler.stream_stream):  # reflection
            return handler._replace(stream_stream=self._bidi(handler.stream_stream, header))
        return handler

    def _unary(
        self, behavior: Callable[..., Awaitable[object]], header: str | None
    ) -> Callable[..., Awaitable[object]]:
        async def authenticated(request: object, context: grpc.aio.ServicerContext) -> object:
            _principal.set(self._verifier.principal(header))
            return await behavior(request, context)

        return authenticated

    def _stream(
        self, behavior: Callable[..., AsyncIterator[object]], header: str | None
    ) -> Callable[..., AsyncIterator[object]]:
        async def authenticated(request: object, context: grpc.aio.ServicerContext) -> AsyncIterator[object]:
            _principal.set(self._verifier.principal(header))
            async for response in behavior(request, context):
                yield response

        return authenticated

    def _bidi(
        self, behavior: Callable[..., AsyncIterator[object]], header: str | None
    ) -> Callable[..., AsyncIterator[object]]:
        async def authenticated(requests: object, context: grpc.aio.ServicerContext) -> AsyncIterator[object]:
            try:
                self._verifier.principal(header)
            except Unauthenticated as error:
                await abort(context, error)
            async for response in behavior(requests, context):
                yield response

        return authenticated
