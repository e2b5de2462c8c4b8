"""The navigation of a tenant host: each feature adds its entries here, shown only to those who may use them.

Only what exists is listed: a feature registers its entries when its blueprint is registered. An entry may be
limited to staff with certain duties (admins always see it) and may carry a badge (the resident's unread count).

Every page renders the navigation, so it is built once per request from plain values: each entry's URL and its
label in each language are computed once per process (routes and catalogs, never tenant data).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import request, url_for
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: object
    roles: tuple[str, ...]
    #: staff see the entry only with one of these duties (empty: every staff member); admins always
    duties: tuple[str, ...] = ()
    #: badge(user) -> int shown next to the label when positive
    badge: Callable | None = None


@dataclass(frozen=True)
class NavLink:
    endpoint: str
    href: str
    label: str
    current: bool
    badge: int = 0


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
_HREFS: dict[tuple[str, str], str] = {}
_LABELS: dict[tuple[str, str, str], str] = {}


def add_nav(endpoint: str, label, roles: tuple[str, ...], *, after: str | None = None, duties: tuple[str, ...] = (),
            badge: Callable | None = None) -> None:
    """A feature adds its entry (call it where the feature's routes are defined, so it exists when listed)."""
    items = RESIDENT_NAV if roles == ('resident',) else STAFF_NAV
    if any(item.endpoint == endpoint for item in items):
        return
    item = NavItem(endpoint, label, roles, tuple(duties), badge)
    position = next((i + 1 for i, it in enumerate(items) if it.endpoint == after), len(items) - 1)
    items.insert(position, item)


def nav_for(user) -> list[NavItem]:
    if not getattr(user, 'is_authenticated', False) or not hasattr(user, 'tenant_id'):
        return []
    items = STAFF_NAV if user.is_staff else RESIDENT_NAV
    duties = set(user.duties or ())
    return [item for item in items if user.role in item.roles
            and (not item.duties or user.role == 'admin' or duties & set(item.duties))]


def nav_links(user) -> list[NavLink]:
    """The user's entries as the page shows them: URL, label in the user's language, current page, badge."""
    items = nav_for(user)
    if not items:
        return []
    root, endpoint, locale = request.script_root, request.endpoint, str(get_locale())
    links = []
    for item in items:
        key = (item.endpoint, root)
        href = _HREFS.get(key)
        if href is None:
            href = _HREFS[key] = url_for(item.endpoint)
        label_key = (item.endpoint, item.roles[0], locale)
        label = _LABELS.get(label_key)
        if label is None:
            label = _LABELS[label_key] = str(item.label)
        links.append(NavLink(item.endpoint, href, label, item.endpoint == endpoint,
                             item.badge(user) if item.badge else 0))
    return links
