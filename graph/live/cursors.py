"""Feed cursors: a subscriber's place in the change feed, sealed.

A bare feed position would tell a subscriber how many changes happened everywhere
between two it was shown, outside its scope too (the one rule: no count that includes
what it cannot see). So a cursor is the position encrypted and authenticated with
AES-SIV: it reveals nothing, cannot be forged or edited, and every worker on every host
opens it, with the key they share through the database (models/server_keys.py).

AES-SIV is deterministic (one position, one cursor) and needs no nonce, so there is no
bound on how many cursors one key may seal, and a position shown to many subscribers is
sealed once (the cache below) rather than once per message.
"""

from __future__ import annotations

import base64
import binascii
import struct
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

KEY_NAME = "feed_cursor"
_POSITION = struct.Struct(">Q")
# Bound to this use: a ciphertext made for something else under the key does not open.
_ASSOCIATED_DATA = [b"congress-monitor feed cursor v1"]
# Positions whose cursor is kept: a burst of changes each shown to many subscribers.
_CACHED_CURSORS = 4096


class InvalidCursor(ValueError):
    """Not a cursor this deployment made."""


class FeedCursors:
    def __init__(self, key: bytes) -> None:
        self._aead = AESSIV(key)
        self.seal = lru_cache(maxsize=_CACHED_CURSORS)(self._seal)

    def _seal(self, position: int) -> str:
        sealed = self._aead.encrypt(_POSITION.pack(position), _ASSOCIATED_DATA)
        return base64.urlsafe_b64encode(sealed).decode().rstrip("=")

    def open(self, cursor: str) -> int:
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            (position,) = _POSITION.unpack(self._aead.decrypt(raw, _ASSOCIATED_DATA))
        except (binascii.Error, ValueError, InvalidTag, struct.error) as error:
            raise InvalidCursor("`after` is not a cursor this server made.") from error
        return int(position)
