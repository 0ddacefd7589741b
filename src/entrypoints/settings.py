"""Settings, read once from the environment by an entrypoint and passed down (no globals)."""

from __future__ import annotations

import os
import re
import secrets
import tomllib
from pathlib import Path
from typing import Literal

import msgspec

from domain.failures import RefundPolicy
from domain.pricing import ModelSpec
from entrypoints.settings_env import ConfigError, field_of, read_fields

DEFAULT_MODELS = Path(__file__).with_name("models.toml")


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the container needs to wire either profile.

    Attributes:
        profile: "embedded" (SQLite, local disk, in-process worker) or "production".
        home: the embedded state directory (database, images, signing key).
        database_url: SQLAlchemy async URL; defaults to SQLite under `home`.
        public_base_url: where the API is reachable; signed file URLs start with it.
        signing_key: HMAC key for local file URLs; generated into `home` on first use.
        ledger_key: HMAC key of the ledger's hash chain (IMAGEGEN_LEDGER_KEY, ADR 0047);
            generated into `home` on the embedded profile, required in production.
    """

    profile: Literal["embedded", "production"] = "embedded"
    home: Path = Path(".imagegen")  # from_env: $XDG_DATA_HOME/imagegen (default_home)
    database_url: str = ""
    redis_url: str = "redis://127.0.0.1:6379/0"
    host: str = "127.0.0.1"
    port: int = 8000
    public_base_url: str = ""
    signing_key: bytes = b""
    ledger_key: bytes = b""
    #: True when `with_ledger_key` generated the key in this process: the one moment an embedded
    #: home may re-seal chains written before the key existed (ADR 0047).
    ledger_key_created: bool = False
    models: tuple[ModelSpec, ...] = ()
    default_model: str = "local"
    refund_policy: RefundPolicy = RefundPolicy()
    worker_concurrency: int = 4
    worker_id: str = ""
    lease_s: int = 300
    reservation_ttl_s: int = 3600
    image_url_ttl_s: int = 3600
    starter_credits: int = 100
    # --- API keys and start-up (ADR 0090-0091) ---
    auth_cache_ttl_s: float = 5.0  # a revocation reaches every other process within this long
    key_touch_every_s: float = 60.0  # last_used_at written at most this often per key and process
    loops: tuple[str, ...] = ("auto",)  # app-lifespan loops: auto, none, or relay reaper reconciler retention
    retention_interval_s: float = 3600.0  # how often the retention loop prunes (ADR 0093)
    retention_outbox_s: float = 7 * 86400.0  # dispatched outbox rows
    retention_idempotency_s: float = 2 * 86400.0  # idempotency keys (they answer for 24 h)
    retention_deliveries_s: float = 30 * 86400.0  # finished webhook deliveries and attempts
    webhook_secret_overlap_s: float = 86400.0  # a rotated client-webhook secret keeps signing this long
    # --- end API keys and start-up ---
    local_latency_s: float = 0.0
    local_failure_rate: float = 0.0
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: str = "info"
    # -- request limits (ADR 0031): per-key token bucket (0 per minute = off), body size, stats
    rate_limit_per_minute: int = 600
    rate_limit_burst: int = 120
    max_body_bytes: int = 1024 * 1024
    stats_sample_limit: int = 10_000
    # --- abuse limits (issue 11, ADR 0080-0084) ---
    rate_limit_pool_size: int = 50  # the limiter's own Redis connections; exhausted -> 503
    rate_limit_pool_timeout_s: float = 1.0  # wait for a free one, then refuse (503)
    sse_max_streams_per_key: int = 20  # open /v1/jobs/{id}/events streams per API key (per process)
    sse_max_duration_s: float = 600.0  # then a final `timeout` event ends the stream
    sse_heartbeat_s: float = 15.0
    metrics_token: str = ""  # /metrics needs `Authorization: Bearer <token>`; empty: /metrics is 404
    metrics_snapshot_ttl_s: float = 15.0  # the database-derived gauges are re-read at most this often
    upload_grace_s: int = 3600  # uploaded inputs no job references are deleted after this long
    # --- end abuse limits ---
    # --- synchronous real providers (ADR 0020); a provider is wired only when its key is set ---
    openai_api_key: str = ""
    gemini_api_key: str = ""
    openrouter_api_key: str = ""
    openai_base_url: str = "https://api.openai.com/v1"
    gemini_base_url: str = "https://generativelanguage.googleapis.com/v1beta"
    openrouter_base_url: str = "https://openrouter.ai/api/v1"
    provider_connect_timeout_s: float = 5.0
    provider_read_timeout_s: float = 600.0  # OpenAI's own SDK default
    edit_history_depth: int = 4  # earlier turns a multi-turn Gemini edit sends as history
    # --- end synchronous real providers ---
    # --- object storage, production profile (S3 + optional CloudFront; see ADR 0014) ---
    s3_bucket: str = ""
    s3_endpoint_url: str = ""  # MinIO / moto; empty means AWS
    s3_public_endpoint_url: str = ""  # the endpoint in presigned URLs, when clients reach S3 elsewhere
    s3_region: str = ""
    s3_connect_timeout_s: float = 3.0
    s3_read_timeout_s: float = 10.0
    cloudfront_domain: str = ""  # empty: presigned S3 URLs
    cloudfront_key_id: str = ""
    cloudfront_private_key: str = ""  # PEM text; or a path in cloudfront_private_key_file
    cloudfront_private_key_file: str = ""
    cloudfront_signed: bool = True
    # --- end object storage ---
    # --- production data and queue path (ADR 0010-0013) ---
    db_pool_size: int = 10
    db_max_overflow: int = 10
    db_pool_timeout_s: float = 10.0
    queue_name: str = "imagegen"
    relay_interval_s: float = 1.0
    reaper_interval_s: float = 30.0
    job_time_limit_s: int = 900
    # --- end production data and queue path ---
    # --- async providers and the provider-webhook receiver (ADR 0023-0025) ---
    replicate_api_token: str = ""
    replicate_base_url: str = "https://api.replicate.com/v1"
    replicate_webhook_secrets: tuple[str, ...] = ()  # whsec_...; several during a rotation
    fal_api_key: str = ""
    fal_queue_url: str = "https://queue.fal.run"
    fal_webhook_public_keys: tuple[str, ...] = ()  # static override of the JWKS `x` values
    fal_jwks_url: str = "https://rest.alpha.fal.ai/.well-known/jwks.json"
    fal_jwks_cache_s: int = 86_400  # fal rotates its keys; re-read them daily
    fal_user_id: str = ""  # our fal account: callbacks signed for another account are refused
    webhook_base_url: str = ""  # where providers reach /webhooks/{provider}; default public_base_url
    webhook_tolerance_s: int = 300
    awaiting_reconcile_after_s: int = 60  # poll a provider for jobs waiting longer than this
    awaiting_max_wait_s: int = 3600  # then fail the job with `timeout`
    reconcile_interval_s: float = 30.0
    image_fetch_allow_hosts: tuple[str, ...] = ()  # exempt from SSRF address checks (dev, tests)
    # --- end async providers ---
    # --- watching jobs and interoperability (ADR 0033-0035) ---
    webhook_allow_hosts: tuple[str, ...] = ()  # client-webhook hosts exempt from SSRF checks (dev, tests)
    webhook_delivery_interval_s: float = 1.0
    webhook_endpoint_cache_s: float = 2.0  # a new endpoint gets events within this long
    openai_wait_s: float = 120.0  # how long /v1/images/* waits for the job before answering 504
    # --- end watching ---
    # --- the ASGI server (ADR 0060) ---
    api_workers: int = 1  # API processes (production only; embedded stays one process)
    http_header_timeout_s: float = 10.0  # request line and headers must arrive within this
    http_body_timeout_s: float = 30.0  # longest pause between body chunks
    http_keep_alive_s: float = 5.0  # idle kept-alive connections are closed after this
    http_max_connections: int = 0  # above it new requests get 503 at once (0: no limit)
    # --- end ASGI server ---

    def __repr__(self) -> str:
        """The default repr with credentials masked, so a logged Settings leaks no key (ADR 0020)."""
        values = ((name, getattr(self, name)) for name in self.__struct_fields__)
        shown = (f"{name}={'***' if value and _is_secret(name) else repr(_without_password(value))}"
                 for name, value in values)
        return f"Settings({', '.join(shown)})"

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.home.resolve() / 'imagegen.db'}"

    @property
    def resolved_base_url(self) -> str:
        return (self.public_base_url or f"http://{self.host}:{self.port}").rstrip("/")

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: object) -> Settings:
        """Build settings from IMAGEGEN_* variables (and the aliases in `ALIASES`).

        Raises:
            ConfigError: naming the first variable whose value does not parse (one line).
        """
        env = dict(os.environ if env is None else env)
        values = read_fields(cls, env)
        values.update(overrides)
        try:
            return msgspec.convert(values, cls, strict=False)
        except msgspec.ValidationError as exc:  # an override of the wrong type: name the field
            raise ConfigError(field_of(str(exc)), str(exc)) from exc

    def with_signing_key(self) -> Settings:
        """Return settings whose signing key is set, creating `home/signing.key` if needed.

        The embedded home is private (ADR 0080): the directory 0700, its database (which holds
        webhook secrets) created 0600 before SQLite opens it; SQLite gives its -wal and -shm
        files the database file's mode, and stored objects are written 0600.
        """
        self.home.mkdir(parents=True, exist_ok=True)
        self.home.chmod(0o700)
        if not self.database_url:
            os.close(os.open(self.home / "imagegen.db", os.O_CREAT | os.O_WRONLY, 0o600))
        if self.signing_key:
            return self
        path = self.home / "signing.key"
        if not path.exists():
            self.home.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_hex(32))
            path.chmod(0o600)
        return msgspec.structs.replace(self, signing_key=path.read_text().strip().encode())

    def with_ledger_key(self) -> Settings:
        """Return settings whose ledger key is set, creating `home/ledger.key` (mode 0600) if
        needed; the embedded profile's key lives beside the signing key."""
        if self.ledger_key:
            return self
        path = self.home / "ledger.key"
        created = not path.exists()
        if created:
            self.home.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
        return msgspec.structs.replace(self, ledger_key=path.read_text().strip().encode(),
                                       ledger_key_created=created)

    def require_ledger_key(self) -> Settings:
        """The production profile's check: `ConfigError` unless IMAGEGEN_LEDGER_KEY is set."""
        if not self.ledger_key:
            raise ConfigError("IMAGEGEN_LEDGER_KEY", "required on the production profile (a secret "
                              "of at least 32 characters that keys the ledger's hash chain)")
        return self


#: Providers a catalog entry may name (ADR 0070).
KNOWN_PROVIDERS = ("local", "openai", "gemini", "openrouter", "replicate", "fal")


class CatalogError(ValueError):
    """Raised when the model catalog does not load; the one-line message names the entry."""


def load_models(path: Path) -> tuple[ModelSpec, ...]:
    """Read and validate the model catalog, a TOML file with a [[models]] array.

    Raises:
        CatalogError: one line naming the file, the entry (index and name) and the problem:
            a field of the wrong type, an unknown provider, a duplicate name, a size that is
            not WxH, a fallback naming no entry, a community Replicate model without a version.
    """
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise CatalogError(f"{path.name}: {exc}") from exc
    specs: list[ModelSpec] = []
    for index, raw in enumerate(data.get("models", [])):
        label = f"{path.name}: models[{index}]"
        if isinstance(raw, dict) and isinstance(raw.get("name"), str):
            label += f" ({raw['name']})"
        try:
            specs.append(msgspec.convert(raw, ModelSpec))
        except (msgspec.ValidationError, ValueError, TypeError) as exc:
            raise CatalogError(f"{label}: {exc}") from None
        problem = _entry_problem(specs[-1], specs[:-1])
        if problem:
            raise CatalogError(f"{label}: {problem}")
    names = {s.name for s in specs}
    for index, spec in enumerate(specs):
        missing = [f for f in spec.fallbacks if f not in names]
        if missing:
            raise CatalogError(f"{path.name}: models[{index}] ({spec.name}): fallback "
                               f"{missing[0]!r} is not in the catalog")
    return tuple(specs)


def _entry_problem(spec: ModelSpec, before: list[ModelSpec]) -> str:
    from domain.errors import InvalidRequest
    from domain.pricing import ImageSize

    if spec.provider not in KNOWN_PROVIDERS:
        return f"provider {spec.provider!r} is not one of {', '.join(KNOWN_PROVIDERS)}"
    if any(other.name == spec.name for other in before):
        return "a model of this name is listed twice"
    for size in spec.sizes:
        try:
            ImageSize.parse(size)
        except InvalidRequest:
            return f"size {size!r} is not WIDTHxHEIGHT"
    if spec.shutdown_on and not _is_date(spec.shutdown_on):
        return f"shutdown_on {spec.shutdown_on!r} is not YYYY-MM-DD"
    if spec.provider == "replicate" and not (spec.upstream_version or spec.official):
        return "a community Replicate model needs upstream_version (or official = true)"
    if spec.upstream_version and not re.fullmatch(r"[0-9a-f]{64}", spec.upstream_version):
        return "upstream_version is not a 64-hex version id"
    return ""


def _is_date(text: str) -> bool:
    from datetime import date

    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return len(text) == 10


def default_home(env: dict[str, str]) -> Path:
    """The embedded state directory: $XDG_DATA_HOME/imagegen, else ~/.local/share/imagegen."""
    base = env.get("XDG_DATA_HOME") or str(Path(env.get("HOME") or Path.home()) / ".local" / "share")
    return Path(base) / "imagegen"


def _without_password(value: object) -> object:
    """A URL's password replaced by *** (database and Redis URLs); anything else as it is."""
    if isinstance(value, str) and "://" in value and "@" in value:
        scheme, _, rest = value.partition("://")
        credentials, at, host = rest.rpartition("@")
        if at and ":" in credentials:
            return f"{scheme}://{credentials.split(':', 1)[0]}:***@{host}"
    return value


def _is_secret(field: str) -> bool:
    return field.endswith(("_key", "_api_key", "_token", "_secret", "_secrets"))
