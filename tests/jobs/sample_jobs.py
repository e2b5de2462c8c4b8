"""Job functions registered for the job tests only (the registry is global by dotted name; fine in-process).

Imported as ``tests.jobs.sample_jobs`` everywhere, so each job has one dotted name. A worker subprocess
started from ``wsgi`` does not import this module: for it these jobs are unknown kinds.
"""
from __future__ import annotations

import sqlalchemy as sa

from propsaas.auth.models import User
from propsaas.errors import DomainError
from propsaas.extensions import db
from propsaas.jobs.queue import job
from propsaas.tenancy.context import current_tenant_id


@job('测试失败')
def explode(message: str) -> dict:
    raise RuntimeError(message)


@job('测试失败')
def refuse(message: str) -> dict:
    raise DomainError(message)


@job('测试：看到的用户')
def users_seen() -> dict:
    """What a job sees of the database: its tenant and the names of the users it can read."""
    names = db.session.execute(sa.select(User.name).order_by(User.name)).scalars().all()
    return {'tenant_id': current_tenant_id(), 'names': names}


@job('测试失败')
def explode_at_length(length: int) -> dict:
    raise RuntimeError('长' * length)


@job('测试失败')
def refuse_at_length(repeat: int) -> dict:
    raise DomainError('账单已锁定，' * repeat)
