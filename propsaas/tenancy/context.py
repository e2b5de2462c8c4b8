"""The one place that knows which tenant the current request or job works for.

A ``ContextVar`` is set per request (``tenancy.hosts``) and per job (``jobs.runner``); the ORM scoping in
``tenancy.scoping`` reads it. Code that must cross tenants says so with ``platform_scope()``.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_tenant_id: ContextVar[int | None] = ContextVar('propsaas_tenant_id', default=None)
_platform: ContextVar[bool] = ContextVar('propsaas_platform_scope', default=False)


class NoTenantError(RuntimeError):
    """Data of a tenant-scoped model was touched with no tenant set (fail closed)."""


class CrossTenantError(RuntimeError):
    """An object of one tenant was written or attached while working for another."""


def current_tenant_id() -> int | None:
    return _tenant_id.get()


def in_platform_scope() -> bool:
    return _platform.get()


def set_tenant(tenant_id: int | None):
    """Set the tenant for the rest of this context; returns a token for ``reset_tenant``."""
    return _tenant_id.set(tenant_id)


def reset_tenant(token) -> None:
    _tenant_id.reset(token)


@contextmanager
def tenant_scope(tenant_id: int) -> Iterator[int]:
    """Work as ``tenant_id`` inside the block (jobs, CLI, tests), then restore what was there."""
    if not isinstance(tenant_id, int) or isinstance(tenant_id, bool):
        raise TypeError('tenant_scope takes a tenant id (int)')
    token = _tenant_id.set(tenant_id)
    platform_token = _platform.set(False)
    try:
        yield tenant_id
    finally:
        _platform.reset(platform_token)
        _tenant_id.reset(token)


@contextmanager
def platform_scope() -> Iterator[None]:
    """Explicitly work across tenants (operator console, host resolution, provisioning).

    Grep for this name to find every place that crosses the tenant wall.
    """
    token = _platform.set(True)
    try:
        yield
    finally:
        _platform.reset(token)
