"""Settings, read once from the environment by an entrypoint and passed down (no globals)."""

from __future__ import annotations

import os
import secrets
import tomllib
from pathlib import Path
from typing import Literal

import msgspec

from domain.failures import RefundPolicy, Settlement
from domain.pricing import ModelSpec

DEFAULT_MODELS = Path(__file__).with_name("models.toml")


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the container needs to wire either profile.

    Attributes:
        profile: "embedded" (SQLite, local disk, in-process worker) or "production".
        home: the embedded state directory (database, images, signing key).
        database_url: SQLAlchemy async URL; defaults to SQLite under `home`.
        public_base_url: where the API is reachable; signed file URLs start with it.
        signing_key: HMAC key for local file URLs; generated into `home` on first use.
    """

    profile: Literal["embedded", "production"] = "embedded"
    home: Path = Path(".imagegen")
    database_url: str = ""
    redis_url: str = "redis://127.0.0.1:6379/0"
    host: str = "127.0.0.1"
    port: int = 8000
    public_base_url: str = ""
    signing_key: bytes = b""
    models: tuple[ModelSpec, ...] = ()
    default_model: str = "local"
    refund_policy: RefundPolicy = RefundPolicy()
    worker_concurrency: int = 4
    worker_id: str = ""
    lease_s: int = 300
    reservation_ttl_s: int = 3600
    image_url_ttl_s: int = 3600
    starter_credits: int = 100
    local_latency_s: float = 0.0
    local_failure_rate: float = 0.0
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: str = "info"

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.home.resolve() / 'imagegen.db'}"

    @property
    def resolved_base_url(self) -> str:
        return (self.public_base_url or f"http://{self.host}:{self.port}").rstrip("/")

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: object) -> Settings:
        """Build settings from IMAGEGEN_* variables (and DATABASE_URL / REDIS_URL)."""
        env = dict(os.environ if env is None else env)
        get = env.get
        home = Path(get("IMAGEGEN_HOME", ".imagegen"))
        values: dict[str, object] = {
            "profile": get("IMAGEGEN_PROFILE", "embedded"),
            "home": home,
            "database_url": _database_url(env),
            "redis_url": get("REDIS_URL", "redis://127.0.0.1:6379/0"),
            "host": get("IMAGEGEN_HOST", "127.0.0.1"),
            "port": int(get("IMAGEGEN_PORT", "8000")),
            "public_base_url": get("IMAGEGEN_PUBLIC_BASE_URL", ""),
            "default_model": get("IMAGEGEN_DEFAULT_MODEL", "local"),
            "models": load_models(Path(get("IMAGEGEN_MODELS_FILE", str(DEFAULT_MODELS)))),
            "refund_policy": _refund_policy(get("IMAGEGEN_CAPTURE_ON", "")),
            "worker_concurrency": int(get("IMAGEGEN_WORKER_CONCURRENCY", "4")),
            "worker_id": get("IMAGEGEN_WORKER_ID", f"{os.uname().nodename}-{os.getpid()}"),
            "lease_s": int(get("IMAGEGEN_LEASE_S", "300")),
            "starter_credits": int(get("IMAGEGEN_STARTER_CREDITS", "100")),
            "local_latency_s": float(get("IMAGEGEN_LOCAL_LATENCY_S", "0")),
            "local_failure_rate": float(get("IMAGEGEN_LOCAL_FAILURE_RATE", "0")),
            "log_format": get("IMAGEGEN_LOG_FORMAT", "auto"),
            "log_level": get("IMAGEGEN_LOG_LEVEL", "info"),
        }
        secret = get("IMAGEGEN_SIGNING_KEY")
        values["signing_key"] = secret.encode() if secret else b""
        values.update(overrides)
        return msgspec.convert(values, cls, strict=False)

    def with_signing_key(self) -> Settings:
        """Return settings whose signing key is set, creating `home/signing.key` if needed."""
        if self.signing_key:
            return self
        path = self.home / "signing.key"
        if not path.exists():
            self.home.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_hex(32))
            path.chmod(0o600)
        return msgspec.structs.replace(self, signing_key=path.read_text().strip().encode())


def load_models(path: Path) -> tuple[ModelSpec, ...]:
    """Read the model catalog from a TOML file with a [[models]] array."""
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    return msgspec.convert(data.get("models", []), tuple[ModelSpec, ...])


def _database_url(env: dict[str, str]) -> str:
    """IMAGEGEN_DATABASE_URL, else DATABASE_URL in production; embedded defaults to SQLite."""
    if env.get("IMAGEGEN_DATABASE_URL"):
        return env["IMAGEGEN_DATABASE_URL"]
    if env.get("IMAGEGEN_PROFILE") == "production":
        return env.get("DATABASE_URL", "")
    return ""


def _refund_policy(capture_on: str) -> RefundPolicy:
    names = [n.strip() for n in capture_on.split(",") if n.strip()]
    return RefundPolicy(overrides={n: Settlement.CAPTURE for n in names})
