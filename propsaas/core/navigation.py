"""The navigation of a tenant host: each feature adds its entries here, shown only to roles that may use them.

Only what exists is listed: a feature registers its entries when its blueprint is registered.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: object
    roles: tuple[str, ...]


STAFF_NAV: list[NavItem] = [
    NavItem('core.home', _l('工作台'), ('admin', 'staff')),
    NavItem('jobs.jobs', _l('后台任务'), ('admin', 'staff')),
    NavItem('auth.users', _l('用户管理'), ('admin',)),
    NavItem('auth.account', _l('我的账号'), ('admin', 'staff')),
]
RESIDENT_NAV: list[NavItem] = [
    NavItem('core.home', _l('首页'), ('resident',)),
    NavItem('auth.account', _l('我的'), ('resident',)),
]


def add_nav(endpoint: str, label, roles: tuple[str, ...], *, after: str | None = None) -> None:
    """A feature adds its entry (call it where the feature's routes are defined, so it exists when listed)."""
    items = RESIDENT_NAV if roles == ('resident',) else STAFF_NAV
    if any(item.endpoint == endpoint for item in items):
        return
    item = NavItem(endpoint, label, roles)
    position = next((i + 1 for i, it in enumerate(items) if it.endpoint == after), len(items) - 1)
    items.insert(position, item)


def nav_for(user) -> list[NavItem]:
    if not getattr(user, 'is_authenticated', False) or not hasattr(user, 'tenant_id'):
        return []
    items = STAFF_NAV if user.is_staff else RESIDENT_NAV
    return [item for item in items if user.role in item.roles]
