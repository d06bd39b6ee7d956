from __future__ import annotations

from .base import Strategy

_REGISTRY: dict[str, type[Strategy]] = {}


def register(cls: type[Strategy]) -> type[Strategy]:
    if cls.key in _REGISTRY and _REGISTRY[cls.key] is not cls:
        raise ValueError(f"strategy key {cls.key!r} is registered twice")
    _REGISTRY[cls.key] = cls
    return cls


def _load_library() -> None:
    # Importing the modules runs their @register decorators.
    from . import builtin  # noqa: F401


def get_strategy_class(key: str) -> type[Strategy]:
    _load_library()
    return _REGISTRY[key]


def registered_strategies() -> dict[str, type[Strategy]]:
    _load_library()
    return dict(sorted(_REGISTRY.items()))


def strategy_choices() -> list[tuple[str, str]]:
    return [(key, cls.label) for key, cls in registered_strategies().items()]
