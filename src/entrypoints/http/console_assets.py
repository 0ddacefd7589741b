"""The web console's static files: content-hashed names, caching headers and the CSP (ADR 0100-0101).

The files live in `entrypoints/http/console/` and ship in the wheel. `index.html` names its
script and stylesheet with `{{app.js}}` / `{{app.css}}`, replaced here by `assets/app.<hash>.js`,
so an asset URL never changes meaning: assets are cached for a year (`immutable`) and the index,
which is small, is revalidated on every load (`no-cache`).
"""

from __future__ import annotations

import hashlib
from importlib import resources
from urllib.parse import urlsplit

import msgspec

from entrypoints.settings import Settings

#: Files served under /console/assets/, by their plain name.
ASSET_NAMES = ("app.js", "app.css", "icon.svg")
MEDIA_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
               ".svg": "image/svg+xml"}
ASSET_CACHE = "public, max-age=31536000, immutable"
INDEX_CACHE = "no-cache"


class Asset(msgspec.Struct, frozen=True):
    name: str  # app.3f2a9c1d0e.js
    body: bytes
    media_type: str


class ConsoleBundle(msgspec.Struct, frozen=True):
    """The index page (with hashed asset names filled in) and the assets by hashed name."""

    index: bytes
    assets: dict[str, Asset]


def _read(name: str) -> bytes:
    return resources.files("entrypoints.http").joinpath("console", name).read_bytes()


def hashed_name(name: str, body: bytes) -> str:
    """`app.js` -> `app.<first 12 hex of sha256>.js`."""
    stem, _, ext = name.rpartition(".")
    return f"{stem}.{hashlib.sha256(body).hexdigest()[:12]}.{ext}"


def load_bundle() -> ConsoleBundle:
    """Read the packaged files once and fill the `{{name}}` slots of the index."""
    index = _read("index.html").decode()
    assets: dict[str, Asset] = {}
    for name in ASSET_NAMES:
        body = _read(name)
        hashed = hashed_name(name, body)
        assets[hashed] = Asset(hashed, body, MEDIA_TYPES["." + name.rpartition(".")[2]])
        index = index.replace("{{" + name + "}}", f"/console/assets/{hashed}")
    return ConsoleBundle(index=index.encode(), assets=assets)


def _origin(url: str) -> str | None:
    parts = urlsplit(url if "://" in url else f"https://{url}")
    if not parts.hostname:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def image_origins(settings: Settings) -> list[str]:
    """Origins the signed image URLs of this deployment point at, besides the console's own.

    Embedded: the API's public base URL (`/files/...`), in case it differs from the address the
    browser used. Production: the CloudFront domain when set; else the S3 endpoint (path-style
    for MinIO) or the bucket's AWS virtual-hosted names (global and regional).
    """
    if settings.profile == "embedded":
        found = [_origin(settings.resolved_base_url)]
    elif settings.cloudfront_domain:
        found = [_origin(settings.cloudfront_domain)]
    elif settings.s3_endpoint_url:
        found = [_origin(settings.s3_endpoint_url)]
    else:
        bucket = settings.s3_bucket
        found = [f"https://{bucket}.s3.amazonaws.com"]
        if settings.s3_region:
            found.append(f"https://{bucket}.s3.{settings.s3_region}.amazonaws.com")
    return [o for o in found if o]


def security_headers(settings: Settings) -> dict[str, str]:
    """CSP allowing only the console's own origin (plus image storage in img-src), and friends."""
    img = " ".join(["'self'", *image_origins(settings)])
    csp = ("default-src 'none'; script-src 'self'; style-src 'self'; "
           f"img-src {img}; connect-src 'self'; form-action 'self'; base-uri 'none'; "
           "frame-ancestors 'none'")
    return {"Content-Security-Policy": csp, "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"}
