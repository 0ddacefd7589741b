"""Object storage on the local disk, served through HMAC-signed expiring URLs (embedded profile)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import tempfile
from pathlib import Path
from urllib.parse import quote

import structlog

from application.ports import Clock, ObjectStorage
from domain.failures import ErrorClass, JobFailure

log = structlog.get_logger(__name__)


def _failure(what: str, exc: OSError) -> JobFailure:
    return JobFailure(ErrorClass.STORAGE, f"{what}: {exc.strerror or exc}")


class LocalDiskObjectStorage(ObjectStorage):
    """Keeps each object as a file under `root`, at the path its key names.

    Writes are atomic (a temporary file in the same directory, then `os.replace`), so a
    reader sees the old object or the new one, never a part. The content type is not
    stored; whoever serves a file derives it from the key's extension. URLs are
    `{base_url}/files/{key}?expires=<unix>&sig=<hex>`, checked by `verify`.
    """

    def __init__(self, root: Path, base_url: str, signing_key: bytes, clock: Clock, *,
                 fsync: bool = True) -> None:
        """Store under `root` (created on first write) and sign URLs with `signing_key`.

        Args:
            root: the directory holding every object.
            base_url: where the HTTP app serving `/files/...` is reached, no trailing slash needed.
            signing_key: the HMAC-SHA256 key for URLs; keep it secret and stable across restarts.
            clock: the time source for expiry.
            fsync: flush each file to disk before it replaces the old one.

        Raises:
            ValueError: if `signing_key` is empty.
        """
        if not signing_key:
            raise ValueError("LocalDiskObjectStorage needs a non-empty signing key")
        self._root = Path(root).resolve()
        self._base_url = base_url.rstrip("/")
        self._key = signing_key
        self._clock = clock
        self._fsync = fsync

    def path_for(self, key: str) -> Path:
        """Return the file path for `key`.

        Raises:
            ValueError: if the key is empty, absolute, holds backslashes, NUL, '.', '..' or
                empty segments, or would otherwise land outside the root.
        """
        parts = key.split("/")
        if (not key or key.startswith("/") or "\\" in key or "\0" in key or ".." in key
                or any(part in ("", ".") for part in parts)):
            raise ValueError(f"invalid storage key {key!r}")
        path = self._root.joinpath(*parts)
        if not path.resolve().is_relative_to(self._root):  # a symlink pointing out
            raise ValueError(f"storage key {key!r} leaves the storage root")
        return path

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        """Write the object atomically, replacing any previous one.

        Raises:
            ValueError: for an invalid key (see `path_for`).
            JobFailure: storage, when the disk write fails.
        """
        path = self.path_for(key)
        try:
            await asyncio.to_thread(self._write, path, data)
        except OSError as exc:
            raise _failure(f"could not write {key}", exc) from exc
        log.debug("storage_put", key=key, size_bytes=len(data), content_type=content_type)

    async def get(self, key: str) -> bytes:
        """Return the object's bytes.

        Raises:
            ValueError: for an invalid key.
            JobFailure: storage, when the object is missing or cannot be read.
        """
        path = self.path_for(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError as exc:
            raise JobFailure(ErrorClass.STORAGE, f"no object stored at {key}") from exc
        except OSError as exc:
            raise _failure(f"could not read {key}", exc) from exc

    async def delete(self, key: str) -> None:
        """Remove the object; a missing one is not an error.

        Raises:
            ValueError: for an invalid key.
            JobFailure: storage, when the file exists but cannot be removed.
        """
        path = self.path_for(key)
        try:
            await asyncio.to_thread(path.unlink, missing_ok=True)
        except OSError as exc:
            raise _failure(f"could not delete {key}", exc) from exc

    def url_for(self, key: str, *, expires_in_s: int) -> str:
        """Return a URL for the object, valid for `expires_in_s` seconds from now.

        Raises:
            ValueError: for an invalid key.
        """
        self.path_for(key)
        expires = int(self._clock.now().timestamp()) + expires_in_s
        sig = self._signature(key, expires)
        return f"{self._base_url}/files/{quote(key, safe='/')}?expires={expires}&sig={sig}"

    def verify(self, key: str, expires: int | str, sig: str) -> bool:
        """Check that `sig` was made by `url_for` for this key and expiry, and has not expired.

        The comparison is constant-time; an unparseable expiry is simply refused.
        """
        try:
            expires_at = int(expires)
        except (TypeError, ValueError):
            return False
        if expires_at < self._clock.now().timestamp():
            return False
        return hmac.compare_digest(self._signature(key, expires_at).encode(), sig.encode())

    def _signature(self, key: str, expires: int) -> str:
        message = f"{key}\n{expires}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def _write(self, path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                if self._fsync:
                    f.flush()
                    os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
