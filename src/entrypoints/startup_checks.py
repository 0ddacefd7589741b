"""Checks a server process makes before it starts: a configured, reachable, migrated database."""

from __future__ import annotations

from entrypoints.settings import Settings
from entrypoints.settings_env import ConfigError


async def require_current_schema(settings: Settings) -> None:
    """Raise ConfigError ("... run imagegen migrate") unless the database is at every head.

    Raises ConfigError for a missing DATABASE_URL in production and ServiceUnavailable for an
    unreachable database. Nothing else (storage, broker) is touched.
    """
    from adapters.persistence.sqlalchemy.engine import create_engine
    from adapters.persistence.sqlalchemy.migrate import schema_problem

    if settings.profile == "production" and not settings.database_url:
        raise ConfigError("DATABASE_URL", "required on the production profile (or IMAGEGEN_DATABASE_URL)")
    engine = create_engine(settings.resolved_database_url)
    try:
        problem = await schema_problem(engine)
    finally:
        await engine.dispose()
    if problem is not None:
        raise ConfigError("DATABASE_URL", problem)
