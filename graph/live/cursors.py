"""Feed cursors: a subscriber's place in the change feed, sealed.

A bare feed position would tell a subscriber how many changes happened everywhere
between two it was shown, outside its scope too (the one rule: no count that includes
what it cannot see). So a cursor is the position encrypted and authenticated (AES-GCM,
a fresh nonce each time): it reveals nothing, cannot be forged or edited, and every worker
on every host opens it, with the key they share through the database
(models/server_keys.py).
"""

from __future__ import annotations

import base64
import binascii
import os
import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_NAME = "feed_cursor"
_NONCE_BYTES = 12
_POSITION = struct.Struct(">Q")
# Bound to this use: a ciphertext made for something else under the key does not open.
_ASSOCIATED_DATA = b"congress-monitor feed cursor v1"


class InvalidCursor(ValueError):
    """Not a cursor this deployment made."""


class FeedCursors:
    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def seal(self, position: int) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, _POSITION.pack(position), _ASSOCIATED_DATA)
        return base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")

    def open(self, cursor: str) -> int:
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            nonce, sealed = raw[:_NONCE_BYTES], raw[_NONCE_BYTES:]
            (position,) = _POSITION.unpack(self._aead.decrypt(nonce, sealed, _ASSOCIATED_DATA))
        except (binascii.Error, ValueError, InvalidTag, struct.error) as error:
            raise InvalidCursor("`after` is not a cursor this server made.") from error
        return int(position)
