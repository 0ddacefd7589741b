"""The container of a Dramatiq worker process, set once by `entrypoints.worker` before the actors
are imported (actors are module-level functions and cannot take it as an argument)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from entrypoints.container import AppContainer

_container: AppContainer | None = None


def set_container(container: AppContainer) -> None:
    global _container
    _container = container


def container() -> AppContainer:
    """The process's container.

    Raises:
        RuntimeError: if `entrypoints.worker` has not set it (actors imported on their own).
    """
    if _container is None:
        raise RuntimeError("import entrypoints.worker (which sets the broker and container) first")
    return _container
