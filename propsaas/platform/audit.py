"""The operators' audit log (操作日志) and the figures of the projects list: what operators did, and each project's
size (rooms, residents, stored files) and last activity (its users' latest login)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask import request
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload

from .. import storage
from ..auth.models import OperatorAction, User
from ..extensions import db
from ..property.models import Room
from ..residents.models import Resident
from ..tenancy.context import platform_scope
from ..tenancy.models import Tenant

ACTION_NAMES = {'login': _l('登录'), 'suspend': _l('暂停项目'), 'resume': _l('恢复项目'),
                'answer_feedback': _l('答复反馈'), 'close_feedback': _l('关闭反馈'), 'retry_job': _l('重试任务'),
                'export': _l('导出项目数据'), 'delete': _l('删除项目'), 'restore': _l('恢复已删除的项目'),
                'purge': _l('清除项目数据'), 'onboarding_pack': _l('生成交付包'),
                'approve_signup': _l('通过注册'), 'reject_signup': _l('拒绝注册')}
PER_PAGE = 50


def record(operator, action: str, *, tenant_id: int | None = None, detail: str | None = None) -> OperatorAction:
    """Log one of ``operator``'s actions (with the request's address). Does not commit: it lands with the action."""
    entry = OperatorAction(operator_id=operator.id, action=action, project_id=tenant_id,
                           detail=(detail or '')[:300] or None, ip=(request.remote_addr or '')[:45] or None)
    db.session.add(entry)
    return entry


def recent(page: int):
    """The log, newest first, with the operators (one statement a page, plus the count)."""
    query = (sa.select(OperatorAction).options(joinedload(OperatorAction.operator))
             .order_by(OperatorAction.at.desc(), OperatorAction.id.desc()))
    return db.paginate(query, page=page, per_page=PER_PAGE, error_out=False)


def project_names(ids) -> dict[int, str]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    with platform_scope():
        return dict(db.session.execute(sa.select(Tenant.id, Tenant.name).where(Tenant.id.in_(ids))).all())


@dataclass
class Size:
    rooms: int = 0
    residents: int = 0
    files_bytes: int = 0
    last_login_at: datetime | None = None


def sizes(tenant_ids) -> dict[int, Size]:
    """Each project's rooms, residents, stored bytes and its users' latest login: three statements for all of
    them, and a walk of each project's file folder."""
    ids = list(tenant_ids)
    result = {tenant_id: Size() for tenant_id in ids}
    if not ids:
        return result
    with platform_scope():
        for tenant_id, count in db.session.execute(sa.select(Room.tenant_id, sa.func.count()).where(
                Room.tenant_id.in_(ids)).group_by(Room.tenant_id)):
            result[tenant_id].rooms = count
        for tenant_id, count in db.session.execute(sa.select(Resident.tenant_id, sa.func.count()).where(
                Resident.tenant_id.in_(ids)).group_by(Resident.tenant_id)):
            result[tenant_id].residents = count
        for tenant_id, last in db.session.execute(sa.select(User.tenant_id, sa.func.max(User.last_login_at)).where(
                User.tenant_id.in_(ids)).group_by(User.tenant_id)):
            result[tenant_id].last_login_at = last
    for tenant_id in ids:
        result[tenant_id].files_bytes = _folder_bytes(storage.tenant_root(tenant_id))
    return result


def _folder_bytes(folder) -> int:
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(root, name))
            except OSError:  # removed meanwhile
                continue
    return total


def megabytes(size: int) -> str:
    return f'{size / 1_048_576:.1f} MB'
