"""CloudFront URLs: canned-policy signatures verified the way CloudFront does, expiry, public mode."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit, urlunsplit

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from adapters.cdn.cloudfront import CloudFrontUrlSigner, load_private_key
from adapters.clock import FakeClock
from domain.images import image_key

pytestmark = pytest.mark.unit

KEY = image_key("user_1", "job_01", 0)


@pytest.fixture(scope="module")
def private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()


def cloudfront_b64decode(text: str) -> bytes:
    """CloudFront's URL-safe base64: '-', '_', '~' stand for '+', '=', '/'."""
    return base64.b64decode(text.translate(str.maketrans("-_~", "+=/")), validate=True)


def cloudfront_accepts(url: str, public_key: rsa.RSAPublicKey, *, now: float,
                       key_pair_id: str = "K2JCJMDEHXQW5F") -> bool:
    """What CloudFront checks for a canned-policy URL: key pair, signature, then expiry."""
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    if set(query) != {"Expires", "Signature", "Key-Pair-Id"} or query["Key-Pair-Id"] != key_pair_id:
        return False
    resource = urlunsplit(parts._replace(query=""))
    policy = json.dumps({"Statement": [{"Resource": resource, "Condition": {
        "DateLessThan": {"AWS:EpochTime": int(query["Expires"])}}}]}, separators=(",", ":"))
    try:
        public_key.verify(cloudfront_b64decode(query["Signature"]), policy.encode(),
                          padding.PKCS1v15(), hashes.SHA1())
    except InvalidSignature:
        return False
    return now < int(query["Expires"])


def signer(clock: FakeClock, key: rsa.RSAPrivateKey) -> CloudFrontUrlSigner:
    return CloudFrontUrlSigner("d111111abcdef8.cloudfront.net", clock, key_id="K2JCJMDEHXQW5F",
                               private_key=key)


def test_a_signed_url_carries_a_canned_policy_signature_cloudfront_accepts(
        clock: FakeClock, private_key: rsa.RSAPrivateKey) -> None:
    url = signer(clock, private_key).url_for(KEY, expires_in_s=3600)
    assert url.startswith(f"https://d111111abcdef8.cloudfront.net/{KEY}?Expires=")
    expires = int(parse_qs(urlsplit(url).query)["Expires"][0])
    assert expires == int(clock.now().timestamp()) + 3600
    assert cloudfront_accepts(url, private_key.public_key(), now=clock.now().timestamp())


def test_the_default_expiry_is_one_hour(clock: FakeClock, private_key: rsa.RSAPrivateKey) -> None:
    url = signer(clock, private_key).url_for(KEY)
    assert int(parse_qs(urlsplit(url).query)["Expires"][0]) == int(clock.now().timestamp()) + 3600


def test_a_signed_url_stops_working_when_it_expires(
        clock: FakeClock, private_key: rsa.RSAPrivateKey) -> None:
    url = signer(clock, private_key).url_for(KEY, expires_in_s=60)
    later = clock.now() + timedelta(seconds=59)
    assert cloudfront_accepts(url, private_key.public_key(), now=later.timestamp())
    assert not cloudfront_accepts(url, private_key.public_key(), now=later.timestamp() + 1)


def test_a_signature_does_not_cover_another_key_expiry_or_signer(
        clock: FakeClock, private_key: rsa.RSAPrivateKey) -> None:
    url = signer(clock, private_key).url_for(KEY, expires_in_s=60)
    now = clock.now().timestamp()
    public = private_key.public_key()
    assert not cloudfront_accepts(url.replace("user_1", "user_2"), public, now=now)
    expires = parse_qs(urlsplit(url).query)["Expires"][0]
    assert not cloudfront_accepts(url.replace(expires, str(int(expires) + 3600)), public, now=now)
    other = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    assert not cloudfront_accepts(url, other.public_key(), now=now)
    assert not cloudfront_accepts(url, public, now=now, key_pair_id="KOTHER")


def test_keys_with_reserved_characters_are_percent_encoded_and_signed_as_sent(
        clock: FakeClock, private_key: rsa.RSAPrivateKey) -> None:
    url = signer(clock, private_key).url_for("users/a b/jobs/j+1/0.png", expires_in_s=60)
    assert "/users/a%20b/jobs/j%2B1/0.png?" in url
    assert cloudfront_accepts(url, private_key.public_key(), now=clock.now().timestamp())


def test_without_a_key_urls_are_public_and_do_not_expire(clock: FakeClock) -> None:
    public = CloudFrontUrlSigner("https://cdn.example.com/", clock)
    assert not public.signed
    assert public.url_for(KEY, expires_in_s=60) == f"https://cdn.example.com/{KEY}"


def test_a_key_without_a_key_id_or_an_empty_domain_is_refused(
        clock: FakeClock, private_key: rsa.RSAPrivateKey) -> None:
    with pytest.raises(ValueError):
        CloudFrontUrlSigner("cdn.example.com", clock, private_key=private_key)
    with pytest.raises(ValueError):
        CloudFrontUrlSigner("cdn.example.com", clock, key_id="K1")
    with pytest.raises(ValueError):
        CloudFrontUrlSigner("https://", clock)


def test_private_keys_load_from_pem_text_or_a_file(
        tmp_path: Path, private_key: rsa.RSAPrivateKey) -> None:
    text = pem(private_key)
    (tmp_path / "cf.pem").write_text(text)
    numbers = private_key.private_numbers()
    assert load_private_key(text).private_numbers() == numbers
    assert load_private_key(path=tmp_path / "cf.pem").private_numbers() == numbers


def test_non_rsa_or_missing_keys_are_refused() -> None:
    with pytest.raises(ValueError):
        load_private_key(pem(ec.generate_private_key(ec.SECP256R1())))
    with pytest.raises(ValueError):
        load_private_key()
    with pytest.raises(ValueError):
        load_private_key("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
