"""The keyed chain hasher is HMAC-SHA256 exactly (RFC 2104), for short, block-sized and long keys."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from adapters.ledger_chain import hmac_chain
from domain.ledger_events import GENESIS_HASH, sha256_chain


@pytest.mark.parametrize("key", [b"", b"k", b"k" * 32, b"k" * 64, b"k" * 65, bytes(range(200))])
def test_the_keyed_hasher_is_hmac_sha256_of_the_previous_hash_and_the_bytes(key: bytes) -> None:
    canonical = b'{"account_id":"a","amount":100}'
    expected = hmac.new(key, GENESIS_HASH.encode() + canonical, hashlib.sha256).hexdigest()
    assert hmac_chain(key)(GENESIS_HASH, canonical) == expected


def test_another_key_or_no_key_gives_another_digest() -> None:
    canonical = b"{}"
    digests = {hmac_chain(b"a" * 32)(GENESIS_HASH, canonical),
               hmac_chain(b"b" * 32)(GENESIS_HASH, canonical), sha256_chain(GENESIS_HASH, canonical)}
    assert len(digests) == 3
