"""Fixtures of the job tests: tenants with recognisable users, and a look at what a job stored."""
from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from propsaas.auth.models import User
from propsaas.jobs.models import JobRecord
from propsaas.storage import path_for, tenant_root
from tests.jobs import sample_jobs  # noqa: F401  (registers the test jobs)
from tests.jobs.support import EXPORT_KEY


@pytest.fixture
def populated_tenant(make_tenant, make_user):
    """populated_tenant(mark) -> tenant with its admin, a staff member named '=cmd|calc' and a resident
    with mobile 138xxxx<4 digits>; every user but the admin carries ``mark`` in its name."""

    def make(mark: str, *, mobile: str | None = None):
        tenant = make_tenant(name=f'{mark}小区')
        tenant.mark = mark
        tenant.mobile = mobile or f'138{uuid.uuid4().int % 10**8:08d}'
        make_user(tenant, 'staff', name='=cmd|calc', email=f'calc@{tenant.slug}.cn')
        make_user(tenant, 'resident', name=f'{mark}住户', mobile=tenant.mobile)
        make_user(tenant, 'staff', name=f'{mark}员工')
        return tenant

    return make


@pytest.fixture
def user_names(in_tenant):
    def names(tenant) -> list[str]:
        with in_tenant(tenant) as session:
            return sorted(session.execute(sa.select(User.name)).scalars())

    return names


@pytest.fixture
def admin_of(in_tenant):
    """The id of the admin make_tenant created (admin@<slug>.cn, password tests.conftest.PASSWORD)."""

    def admin(tenant) -> int:
        with in_tenant(tenant) as session:
            return session.execute(sa.select(User.id).where(User.email == f'admin@{tenant.slug}.cn')).scalar_one()

    return admin


@pytest.fixture
def job_rows(in_tenant):
    """job_rows(tenant) -> the tenant's JobRecords as dicts, fresh from the database."""

    def rows(tenant, **where) -> list[dict]:
        with in_tenant(tenant) as session:
            query = sa.select(JobRecord).order_by(JobRecord.id)
            for name, value in where.items():
                query = query.where(getattr(JobRecord, name) == value)
            return [{c.key: getattr(r, c.key) for c in sa.inspect(JobRecord).column_attrs}
                    for r in session.execute(query).scalars()]

    return rows


@pytest.fixture
def stored_export(in_tenant):
    """stored_export(tenant) -> (bytes of the tenant's users export, names of every file in its folder)."""

    def read(tenant, key: str = EXPORT_KEY) -> tuple[bytes, list[str]]:
        with in_tenant(tenant):
            path = path_for(key)
            assert tenant_root().resolve() in path.parents
            return path.read_bytes(), sorted(p.name for p in path.parent.iterdir())

    return read
