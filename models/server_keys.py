"""Secrets every worker on every host must share, kept in the database they all reach.

A key is made the first time any worker asks for it (two asking at once both get the one
that was stored first), so a deployment needs no configuration for it and no host can
disagree with another.
"""

from __future__ import annotations

import os

from sqlalchemy import LargeBinary, String, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base

KEY_BYTES = 32


class ServerKey(Base):
    __tablename__ = "server_key"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    secret: Mapped[bytes] = mapped_column(LargeBinary)


async def server_key(engine: AsyncEngine, name: str) -> bytes:
    """The key called `name`, made now if no worker made it before."""
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    async with engine.begin() as connection:
        await connection.execute(
            dialect.insert(ServerKey)
            .values(name=name, secret=os.urandom(KEY_BYTES))
            .on_conflict_do_nothing(index_elements=[ServerKey.name])
        )
        secret = await connection.scalar(select(ServerKey.secret).where(ServerKey.name == name))
    assert secret is not None, "inserted above unless it was there"
    return bytes(secret)
