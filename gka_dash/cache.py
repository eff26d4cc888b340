"""A process-wide cache of reads, so that a click re-reads nothing that has not changed.

The key holds everything a result depends on: the function and all its arguments (the user's
Scope among them, so one user's result never answers another's scope), the database (its URL
and an id written when its schema was made, so a rebuilt database at the same URL is a new
one), the data version that every import bumps, and the suppression threshold. A read that
raises (a ScopeError, say) stores nothing. Callers get a copy, so a page that adds a column to
a frame cannot change what the next session gets.
"""

from __future__ import annotations

import functools
import threading

import pandas as pd
from cachetools import LRUCache

from . import config, db

_entries: LRUCache = LRUCache(maxsize=2048)
_lock = threading.Lock()


def cached(func):
    @functools.wraps(func)
    def wrapper(engine, *args, **kwargs):
        key = (func.__module__, func.__qualname__, engine.url.render_as_string(hide_password=True),
               db.data_stamp(engine), config.suppression_threshold(), _hashable(args), _hashable(kwargs))
        with _lock:
            found = _entries.get(key, _MISSING)
        if found is _MISSING:
            found = func(engine, *args, **kwargs)
            with _lock:
                _entries[key] = found
        return _copy(found)

    return wrapper


_MISSING = object()


def _hashable(value):
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, set):
        return frozenset(value)
    return value


def _copy(value):
    if isinstance(value, (pd.DataFrame, pd.Series)):
        return value.copy()
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return type(value)(*(_copy(v) for v in value))
    if isinstance(value, (list, tuple)):
        return type(value)(_copy(v) for v in value)
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    return value
