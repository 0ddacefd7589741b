"""SQLAlchemy 2 (Core, async) adapters for SQLite and Postgres behind the persistence ports."""

from adapters.persistence.sqlalchemy.engine import create_engine, create_schema
from adapters.persistence.sqlalchemy.uow import SqlAlchemyUnitOfWork, SqlAlchemyUnitOfWorkFactory

__all__ = ["SqlAlchemyUnitOfWork", "SqlAlchemyUnitOfWorkFactory", "create_engine", "create_schema"]
