"""Deleting a project (删除项目): soft first, gone for good after a grace period.

An operator deletes a project by typing its slug: it is marked deleted (``Tenant.DELETED``), its hosts answer 404
and nothing of it runs any more (every sweep goes over active projects only, its waiting jobs are failed). During
the grace period (``PROJECT_DELETE_GRACE_DAYS``, 30 days by default) the operator can restore it as it was. After
it, the purge (a worker maintenance task, and ``flask --app wsgi tenants purge``) removes every row of the project
from every table, its stored files and finally its ``tenants`` row, in one transaction per project.

The purge finds what to remove from the metadata, never from a list kept by hand: every table with a
``tenant_id`` column, and every foreign key that reaches the project (directly to ``tenants``, or to a row of one
of its tables) from a platform table: nullable ones are set NULL (the operators' log keeps its entries), others
deleted. Children go before parents (the metadata's sorted tables, reversed).
"""
from __future__ import annotations

import logging
import shutil
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l

from .. import storage
from ..auth.models import OperatorAction
from ..errors import DomainError
from ..extensions import db
from ..jobs.models import JobRecord
from ..jobs.queue import PROJECT_DELETED, maintenance_task
from ..tenancy.context import platform_scope, tenant_scope
from ..tenancy.models import Tenant
from ..tenancy.provisioning import find_tenant

log = logging.getLogger(__name__)



class ProjectNotFound(DomainError):
    status_code = 404


def grace_days() -> int:
    """Days a deleted project can be restored (config ``PROJECT_DELETE_GRACE_DAYS``)."""
    return max(0, int(current_app.config['PROJECT_DELETE_GRACE_DAYS']))


def _aware(now: datetime | None) -> datetime:
    """``now`` (the clock's when None) as an aware UTC time, whichever kind the caller passed."""
    now = now or datetime.now(UTC)
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now


def _project(slug: str) -> Tenant:
    tenant = find_tenant((slug or '').strip().lower())
    if tenant is None:
        raise ProjectNotFound(_l('找不到项目 %(slug)s', slug=slug))
    return tenant


def delete_project(slug: str, confirmation: str) -> Tenant:
    """Mark the project ``slug`` deleted once ``confirmation`` repeats its slug; its purge is due after the grace
    period. Its queued and running jobs are failed, so none starts again. In the caller's transaction.

    Raises ProjectNotFound, or DomainError (slug not repeated, already deleted)."""
    tenant = _project(slug)
    if tenant.is_deleted:
        raise DomainError(_l('项目 %(name)s 已经删除', name=tenant.name))
    if (confirmation or '').strip() != tenant.slug:
        raise DomainError(_l('输入的项目标识与 %(slug)s 不一致，项目未删除', slug=tenant.slug), field='confirmation')
    now = _aware(None)
    tenant.status, tenant.deleted_at = Tenant.DELETED, now
    tenant.purge_after = now + timedelta(days=grace_days())
    with tenant_scope(tenant.id):
        db.session.execute(sa.update(JobRecord).where(JobRecord.status.in_((JobRecord.QUEUED, JobRecord.RUNNING)))
                           .values(status=JobRecord.FAILED, finished_at=now, error=PROJECT_DELETED)
                           .execution_options(synchronize_session=False))
    return tenant


def restore_project(slug: str) -> Tenant:
    """Bring a deleted project back during its grace period, active, with everything it had. In the caller's
    transaction. Raises ProjectNotFound (purged already, or never existed) or DomainError (not deleted)."""
    tenant = _project(slug)
    if not tenant.is_deleted:
        raise DomainError(_l('项目 %(name)s 没有被删除', name=tenant.name))
    tenant.status, tenant.deleted_at, tenant.purge_after = Tenant.ACTIVE, None, None
    return tenant


def due_for_purge(slug: str | None = None, *, now: datetime | None = None, ignore_grace: bool = False) -> list[int]:
    """Ids of the deleted projects whose grace period is over (every deleted one with ``ignore_grace``)."""
    with platform_scope():
        query = sa.select(Tenant.id).where(Tenant.status == Tenant.DELETED).order_by(Tenant.id)
        if slug:
            query = query.where(Tenant.slug == slug.strip().lower())
        if not ignore_grace:
            query = query.where(Tenant.purge_after <= _aware(now))
        ids = list(db.session.execute(query).scalars())
        db.session.rollback()
    return ids


def purge_due(slug: str | None = None, *, now: datetime | None = None, ignore_grace: bool = False) -> list[str]:
    """Purge every deleted project that is due (see ``due_for_purge``), one transaction each; their slugs."""
    purged = []
    for tenant_id in due_for_purge(slug, now=now, ignore_grace=ignore_grace):
        done = purge_project(tenant_id, now=now, ignore_grace=ignore_grace)
        if done:
            purged.append(done)
    return purged


@maintenance_task
def purge_expired() -> list[str]:
    """The workers' loop: projects deleted longer ago than the grace period are purged."""
    return purge_due()


def purge_project(tenant_id: int, *, now: datetime | None = None, ignore_grace: bool = False) -> str | None:
    """Remove every row and file of a deleted project, then the project itself; returns its slug, or None when it
    is not (or no longer) deleted, or its grace period is not over (unless ``ignore_grace``).

    One transaction: the project's row is locked first (a restore meanwhile waits, or wins and the purge skips);
    anything failing rolls everything back and the files stay. The files go once the rows are committed away.
    """
    with platform_scope():
        tenant = db.session.execute(sa.select(Tenant).where(Tenant.id == tenant_id).with_for_update()
                                    ).scalar_one_or_none()
        if tenant is None or not tenant.is_deleted or not (
                ignore_grace or (tenant.purge_after is not None and tenant.purge_after <= _aware(now))):
            db.session.rollback()
            return None
        slug, name = tenant.slug, tenant.name
    try:
        _delete_rows(tenant_id)
        with platform_scope():
            db.session.execute(sa.delete(Tenant).where(Tenant.id == tenant_id))
            db.session.add(OperatorAction(operator_id=None, action='purge', project_id=None,
                                          detail=f'{slug} {name}'[:300]))
            db.session.flush()
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    db.session.expunge_all()  # the project's objects are gone: nothing may flush them again
    try:
        shutil.rmtree(storage.tenant_root(tenant_id))
    except FileNotFoundError:
        pass  # it never stored a file
    except OSError as exc:  # the rows are gone; what is left of the folder is reported, and can go by hand
        log.error('purge of %s: files folder not fully removed: %s', slug, exc)
    log.info('project %s (#%s) purged', slug, tenant_id)
    return slug


def _delete_rows(tenant_id: int) -> None:
    """Every row of the project, children first; and what platform tables hold of it."""
    for table in reversed(db.metadata.sorted_tables):
        if table.name == Tenant.__tablename__:
            continue
        if 'tenant_id' in table.c:
            # In the project's scope: the ORM wall and RLS let this touch nothing of another project.
            with tenant_scope(tenant_id):
                for fk in table.foreign_keys:  # rows of one table pointing at each other (rooms merged into rooms)
                    if fk.column.table is table and fk.parent.nullable:
                        db.session.execute(sa.update(table).values({fk.parent.name: None}).where(
                            table.c.tenant_id == tenant_id, fk.parent.is_not(None)))
                db.session.execute(sa.delete(table).where(table.c.tenant_id == tenant_id))
            continue
        with platform_scope():
            for fk in table.foreign_keys:
                condition = _reaches_project(fk, tenant_id)
                if condition is None:
                    continue
                if fk.parent.nullable:
                    db.session.execute(sa.update(table).where(condition).values({fk.parent.name: None}))
                else:
                    db.session.execute(sa.delete(table).where(condition))


def _reaches_project(fk: sa.ForeignKey, tenant_id: int):
    """The condition under which a platform table's foreign key points at the project or at one of its rows."""
    parent = fk.column.table
    if parent.name == Tenant.__tablename__:
        return fk.parent == tenant_id
    if 'tenant_id' in parent.c:
        return fk.parent.in_(sa.select(fk.column).where(parent.c.tenant_id == tenant_id))
    return None
