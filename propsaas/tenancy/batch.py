"""Provision several projects from one file: each row is created, skipped (slug exists) or reported failed."""
from __future__ import annotations

from dataclasses import dataclass

from ..documents.tables import TableError, read_rows
from ..errors import DomainError
from ..extensions import db
from . import provisioning
from .delivery import TemplateError

COLUMNS = ('slug', 'name', 'template', 'admin_email', 'admin_password', 'org')
REQUIRED = ('slug', 'name', 'admin_email')


@dataclass
class RowResult:
    line: int
    slug: str
    outcome: str  # created, skipped, failed
    detail: str = ''


def provision_file(path) -> list[RowResult]:
    """Each row commits on its own, so one bad row never undoes or blocks the others; re-running is safe."""
    try:
        rows = read_rows(path, max_rows=1000)
    except TableError as e:
        return [RowResult(1, '', 'failed', str(e))]
    if rows and (missing := [c for c in REQUIRED if c not in rows[0][1]]):
        return [RowResult(1, '', 'failed', f'missing column(s): {", ".join(missing)}; expected {", ".join(COLUMNS)}')]
    return [_provision_row(line, row) for line, row in rows]


def _provision_row(line: int, row: dict) -> RowResult:
    slug = row.get('slug', '').lower()
    if not all(row.get(c) for c in REQUIRED):
        return RowResult(line, slug, 'failed', 'slug, name and admin_email are required')
    if provisioning.find_tenant(slug) is not None:
        return RowResult(line, slug, 'skipped', 'exists already')
    try:
        done = provisioning.create_tenant(
            slug, name=row['name'], template=row.get('template') or 'standard-residential',
            admin_email=row['admin_email'], admin_password=row.get('admin_password') or None,
            org=row.get('org') or None)
        db.session.commit()
    except TemplateError as e:
        db.session.rollback()
        return RowResult(line, slug, 'failed', '; '.join(e.errors))
    except DomainError as e:
        db.session.rollback()
        return RowResult(line, slug, 'failed', e.message)
    detail = f'{provisioning_url(slug)} admin {done.admin_login}'
    if done.admin_password:
        detail += f' password {done.admin_password}'
    return RowResult(line, slug, 'created', detail)


def provisioning_url(slug: str) -> str:
    from ..cli import tenant_url

    return tenant_url(slug)
