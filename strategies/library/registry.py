"""The strategy registry: the built-in library and the trader's own strategies (plugins).

A plugin is a module of the trader's own package whose ``Strategy`` subclasses are decorated with
``@register``. It is found through the ``STRATEGY_MODULES`` setting (module paths) or a package
entry point in the group ``trading.strategies`` (pointing at a module or a class). Each class is
checked when it registers (``check_strategy_class``): declared key, label and interface version,
a parameter model derived from ``StrategyParameters``, a ``compute`` and a warm-up that answers.
A module that fails to import, or a class that fails a check, is refused with a message saying
why (``refused_plugins``; ``manage.py check`` shows them); it stops nothing else from loading.
"""

from __future__ import annotations

import importlib
import logging
import threading
from importlib.metadata import entry_points

from .base import INTERFACE_VERSION, Strategy, StrategyParameters

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "trading.strategies"
_REGISTRY: dict[str, type[Strategy]] = {}
_REFUSED: dict[str, str] = {}  # module or class path -> why it was refused
_LOADED: set[str] = set()
_lock = threading.RLock()


class StrategyPluginError(ValueError):
    """A strategy class or plugin module that cannot be used; the message says why."""


class UnknownStrategy(KeyError):
    """No strategy class under that key (never registered, or its plugin was refused)."""

    def __str__(self) -> str:
        return str(self.args[0])


def check_strategy_class(cls: type) -> None:
    """Raise StrategyPluginError unless ``cls`` follows the strategy interface of this system."""
    name = f"{cls.__module__}.{cls.__qualname__}"
    if not isinstance(cls, type) or not issubclass(cls, Strategy):
        raise StrategyPluginError(f"{name} is not a subclass of strategies.library.Strategy")
    for attribute in ("key", "label"):
        value = getattr(cls, attribute, None)
        if not isinstance(value, str) or not value.strip():
            raise StrategyPluginError(f"{name} declares no {attribute} (a non-empty string)")
    version = getattr(cls, "interface_version", None)
    if version != INTERFACE_VERSION:
        raise StrategyPluginError(
            f"{name} declares interface version {version!r}; this system runs version {INTERFACE_VERSION} "
            "(compute(candles: Candles) -> StrategyOutput, see strategies/library/base.py)"
        )
    parameters = getattr(cls, "Parameters", None)
    if not isinstance(parameters, type) or not issubclass(parameters, StrategyParameters):
        raise StrategyPluginError(f"{name}.Parameters must be a subclass of strategies.library.StrategyParameters")
    if cls.compute is Strategy.compute:
        raise StrategyPluginError(f"{name} does not implement compute(candles)")
    if not any(field.is_required() for field in parameters.model_fields.values()):
        try:
            warmup = cls().warmup_bars
        except Exception as exc:
            raise StrategyPluginError(f"{name}: warmup_bars fails on the default parameters: {exc!r}") from None
        if not isinstance(warmup, int) or isinstance(warmup, bool) or warmup < 1:
            raise StrategyPluginError(f"{name}: warmup_bars must be a whole number of bars >= 1, got {warmup!r}")


def register(cls: type[Strategy]) -> type[Strategy]:
    """Class decorator: check the strategy class and add it under its key."""
    check_strategy_class(cls)
    with _lock:
        if cls.key in _REGISTRY and _REGISTRY[cls.key] is not cls:
            other = _REGISTRY[cls.key]
            raise StrategyPluginError(
                f"strategy key {cls.key!r} of {cls.__module__}.{cls.__qualname__} is already taken by "
                f"{other.__module__}.{other.__qualname__}"
            )
        _REGISTRY[cls.key] = cls
    return cls


def _load_library() -> None:
    # Importing the modules runs their @register decorators.
    from django.conf import settings

    from . import builtin  # noqa: F401

    for path in getattr(settings, "STRATEGY_MODULES", ()):
        _load_plugin(path, lambda path=path: importlib.import_module(path))
    if "entry points" not in _LOADED:
        _LOADED.add("entry points")
        for entry in entry_points(group=ENTRY_POINT_GROUP):
            source = f"entry point {entry.name} ({entry.value})"
            _load_plugin(source, lambda entry=entry: _register_loaded(entry.load()))


def _register_loaded(loaded) -> None:
    if isinstance(loaded, type):  # an entry point naming a class rather than a module
        if loaded not in _REGISTRY.values():
            register(loaded)


def _load_plugin(source: str, load) -> None:
    with _lock:
        if source in _LOADED:
            return
        _LOADED.add(source)
        before = set(_REGISTRY)
        try:
            load()
        except Exception as exc:  # the trader's code: anything it raises refuses that plugin only
            for key in set(_REGISTRY) - before:  # none of a refused module's classes stays half-loaded
                del _REGISTRY[key]
            reason = str(exc) if isinstance(exc, StrategyPluginError) else f"{type(exc).__name__}: {exc}"
            _REFUSED[source] = reason
            logger.error("strategy plugin %s refused: %s", source, reason)


def refused_plugins() -> dict[str, str]:
    """Plugin module (or entry point) -> why it was refused."""
    _load_library()
    return dict(_REFUSED)


def get_strategy_class(key: str) -> type[Strategy]:
    _load_library()
    try:
        return _REGISTRY[key]
    except KeyError:
        refused = "; ".join(f"{source}: {why}" for source, why in _REFUSED.items())
        hint = f" (refused plugins: {refused})" if refused else ""
        raise UnknownStrategy(f"unknown strategy type {key!r}{hint}") from None


def registered_strategies() -> dict[str, type[Strategy]]:
    _load_library()
    return dict(sorted(_REGISTRY.items()))


def strategy_choices() -> list[tuple[str, str]]:
    return [(key, cls.label) for key, cls in registered_strategies().items()]
