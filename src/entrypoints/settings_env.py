"""Reading `Settings` from the environment: one loop over the fields, one alias table.

A field `foo_bar` is read from `IMAGEGEN_FOO_BAR` unless `ALIASES` lists its variables (first
set wins). A value is converted to the field's type by msgspec; a value that does not convert
raises `ConfigError`, whose text is one line naming the variable. To add a setting, add the
field to `Settings` (and, for another variable name or a special parser, one line here).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from domain.failures import RefundPolicy, Settlement

if TYPE_CHECKING:
    from entrypoints.settings import Settings


class ConfigError(ValueError):
    """A configuration variable is missing or does not parse; `str()` is one line naming it."""

    def __init__(self, variable: str, reason: str) -> None:
        super().__init__(f"{variable}: {reason}")
        self.variable, self.reason = variable, reason


#: Variables read for a field, first set wins (default: IMAGEGEN_<FIELD>).
ALIASES: dict[str, tuple[str, ...]] = {
    "database_url": ("IMAGEGEN_DATABASE_URL", "DATABASE_URL"),  # DATABASE_URL in production only
    "redis_url": ("IMAGEGEN_REDIS_URL", "REDIS_URL"),
    "models": ("IMAGEGEN_MODELS_FILE",),
    "refund_policy": ("IMAGEGEN_CAPTURE_ON",),
    "openai_api_key": ("IMAGEGEN_OPENAI_API_KEY", "OPENAI_API_KEY"),
    "gemini_api_key": ("IMAGEGEN_GEMINI_API_KEY", "GEMINI_API_KEY"),
    "openrouter_api_key": ("IMAGEGEN_OPENROUTER_API_KEY", "OPENROUTER_API_KEY"),
    "replicate_api_token": ("IMAGEGEN_REPLICATE_API_TOKEN", "REPLICATE_API_TOKEN"),
    "fal_api_key": ("IMAGEGEN_FAL_API_KEY", "FAL_KEY"),
}

_FALSE = ("0", "false", "no", "off")
_TRUE = ("1", "true", "yes", "on")


def _models(raw: str) -> object:
    from entrypoints.settings import load_models

    try:
        return load_models(Path(raw))
    except OSError as exc:
        raise ValueError(f"cannot read the model catalog: {exc.strerror}") from exc
    except ValueError as exc:  # CatalogError: the file, the entry and the problem, one line
        raise ValueError(str(exc).splitlines()[0]) from exc


def _refund_policy(raw: str) -> object:
    names = [n.strip() for n in raw.split(",") if n.strip()]
    return RefundPolicy(overrides={n: Settlement.CAPTURE for n in names})


def _bool(raw: str) -> object:
    if raw.strip().lower() in _TRUE:
        return True
    if raw.strip().lower() in _FALSE:
        return False
    raise ValueError(f"expected one of {'/'.join(_TRUE + _FALSE)}, got {raw!r}")


def _words(raw: str) -> object:
    return tuple(p for p in raw.replace(",", " ").split() if p)


#: Fields whose text needs more than msgspec's conversion.
PARSERS: dict[str, Callable[[str], object]] = {
    "models": _models,
    "refund_policy": _refund_policy,
    "signing_key": lambda raw: raw.encode(),
    "ledger_key": lambda raw: raw.encode(),
}


def read_fields(cls: type[Settings], env: dict[str, str]) -> dict[str, Any]:
    """The fields of `cls` whose variables are set in `env`, converted; `ConfigError` otherwise."""
    from entrypoints.settings import DEFAULT_MODELS, default_home

    production = env.get("IMAGEGEN_PROFILE") == "production"
    values: dict[str, Any] = {"home": default_home(env),
                              "worker_id": f"{os.uname().nodename}-{os.getpid()}"}
    for field in msgspec.structs.fields(cls):
        names = ALIASES.get(field.name, (f"IMAGEGEN_{field.name.upper()}",))
        if field.name == "database_url" and not production:
            names = names[:1]  # the embedded profile keeps to SQLite unless told explicitly
        variable = next((n for n in names if env.get(n, "") != ""), None)
        if variable is None:
            if field.name == "models":
                values["models"] = _parse(field, "IMAGEGEN_MODELS_FILE", str(DEFAULT_MODELS))
            continue
        values[field.name] = _parse(field, variable, env[variable])
    return values


def _parse(field: msgspec.structs.FieldInfo, variable: str, raw: str) -> object:
    try:
        if field.name in PARSERS:
            return PARSERS[field.name](raw)
        if field.type is bool:
            return _bool(raw)
        if field.type is Path:
            return Path(raw).expanduser()
        if getattr(field.type, "__origin__", None) is tuple:
            return msgspec.convert(_words(raw), field.type)
        return msgspec.convert(raw.strip(), field.type, strict=False)
    except msgspec.ValidationError as exc:
        raise ConfigError(variable, f"{_describe(field.type)}, got {raw!r}") from exc
    except ValueError as exc:
        raise ConfigError(variable, str(exc).splitlines()[0]) from exc


def _describe(type_: object) -> str:
    if type_ is int:
        return "expected a whole number"
    if type_ is float:
        return "expected a number"
    args = getattr(type_, "__args__", None)
    if args and all(isinstance(a, str) for a in args):
        return f"expected one of {', '.join(args)}"
    return f"expected {getattr(type_, '__name__', type_)}"


def field_of(message: str) -> str:
    """The IMAGEGEN_ variable of a msgspec error's `$.field` path (for overrides)."""
    name = message.rsplit("$.", 1)[-1].split("`")[0].split("[")[0] if "$." in message else "settings"
    return ALIASES.get(name, (f"IMAGEGEN_{name.upper()}",))[0]
