"""Turn an Authorization header into a Viewer, or say why not (always before any resolver)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from permissions.tokens import TokenError, TokenVerifier
from permissions.viewer import Viewer, load_active_viewer


class AuthenticationError(Exception):
    """The request does not prove an active user; the HTTP edge answers 401."""


async def authenticate(
    authorization_header: str | None, verifier: TokenVerifier, session: AsyncSession
) -> Viewer:
    scheme, _, token = (authorization_header or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError("missing bearer token")
    try:
        identity = verifier.verify(token.strip())
    except TokenError as error:
        raise AuthenticationError(str(error)) from error
    viewer = await load_active_viewer(session, identity.subject)
    if viewer is None:
        # One message for unknown and inactive users: the answer must not tell them apart.
        raise AuthenticationError("no active account for this identity")
    return viewer
