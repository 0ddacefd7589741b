"""In-memory adapters for the persistence ports: same behaviour as SQL, for unit tests and fakes."""

from adapters.memory.store import InMemoryDatabase
from adapters.memory.uow import InMemoryUnitOfWork, InMemoryUnitOfWorkFactory

__all__ = ["InMemoryDatabase", "InMemoryUnitOfWork", "InMemoryUnitOfWorkFactory"]
