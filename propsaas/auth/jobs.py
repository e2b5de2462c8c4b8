"""Jobs of the users feature."""
from __future__ import annotations

import io

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from openpyxl import Workbook

from ..documents.spreadsheets import safe_cell
from ..extensions import db
from ..jobs.queue import job, report_progress
from ..storage import write_atomically
from .models import User, mask_mobile

ROLE_NAMES = {'admin': '管理员', 'staff': '员工', 'resident': '住户'}


@job(_l('导出用户名单'))
def export_users() -> dict:
    """Write the tenant's users to an .xlsx (mobiles masked, as personal information on paper must be).

    Idempotent: the file has a fixed key per tenant and is replaced atomically on every run.
    """
    users = db.session.execute(sa.select(User).order_by(User.role, User.name)).scalars().all()
    book = Workbook(write_only=True)
    sheet = book.create_sheet('用户')
    sheet.append(['姓名', '角色', '手机号', '邮箱', '状态'])
    for n, user in enumerate(users, 1):
        status = '已停用' if not user.active else ('待接受邀请' if user.invited else '正常')
        sheet.append([safe_cell(user.name), ROLE_NAMES[user.role], mask_mobile(user.mobile),
                      safe_cell(user.email or ''), status])
        if n % 500 == 0:
            report_progress(n * 100 // len(users))
    buffer = io.BytesIO()
    book.save(buffer)
    key = 'exports/users.xlsx'
    write_atomically(key, buffer.getvalue())
    return {'file': key, 'rows': len(users)}
