"""「数据导出」 for the project's admins: start the whole export and download it when it is done. Admins only: the zip
holds every resident's personal information."""
from __future__ import annotations

import sqlalchemy as sa
from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from ..auth.sessions import require_role
from ..core.navigation import add_nav
from ..extensions import db
from ..jobs.models import JobRecord
from ..jobs.queue import QueueUnavailable, enqueue
from ..tenancy.guards import tenant_only
from . import bp
from .export import export_project_data

tenant_only(bp)


def latest_export() -> JobRecord | None:
    """The current project's export job (one record per project: a new export replaces the last)."""
    return db.session.execute(sa.select(JobRecord).where(JobRecord.kind == export_project_data.job_spec.name)
                              .order_by(JobRecord.created_at.desc(), JobRecord.id.desc()).limit(1)).scalar()


@bp.get('/settings/data-export')
@require_role('admin')
def export_page():
    return render_template('projectdata/export.html', record=latest_export())


@bp.post('/settings/data-export')
@require_role('admin')
def start_export():
    try:
        enqueue(export_project_data, requested_by_id=current_user.id)
    except QueueUnavailable as e:
        flash(e.message, 'error')
    else:
        flash(_('已开始导出项目数据，完成后可在本页下载'))
    return redirect(url_for('projectdata.export_page'))


add_nav('projectdata.export_page', _l('数据导出'), ('admin',), after='notices.channel_settings')
