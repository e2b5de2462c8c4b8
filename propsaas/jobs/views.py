"""Staff pages for background jobs: what ran, its progress, its error, its file."""
from pathlib import Path

import sqlalchemy as sa
from flask import abort, render_template, request, send_file
from flask_login import current_user

from ..auth.sessions import require_staff
from ..extensions import db
from ..models_base import get_or_404
from ..storage import path_for
from ..tenancy.guards import tenant_only
from . import bp
from .models import JobRecord

tenant_only(bp)
PER_PAGE = 20


@bp.get('/jobs')
@require_staff
def jobs():
    page = request.args.get('page', 1, type=int)
    pagination = db.paginate(sa.select(JobRecord).order_by(JobRecord.created_at.desc(), JobRecord.id.desc()),
                             page=max(page, 1), per_page=PER_PAGE, error_out=False)
    return render_template('jobs/list.html', pagination=pagination)


@bp.get('/jobs/<int:job_id>')
@require_staff
def job_detail(job_id):
    return render_template('jobs/detail.html', record=get_or_404(JobRecord, job_id))


@bp.get('/jobs/<int:job_id>/download')
@require_staff
def download(job_id):
    record = get_or_404(JobRecord, job_id)
    if not record.has_file:
        abort(404)
    if current_user.role != 'admin' and record.requested_by_id != current_user.id:
        abort(403)  # staff download what they asked for; admins everything of their tenant
    return send_result_file(record)


def send_result_file(record: JobRecord | None, kind: str | None = None):
    """The file a finished job of the current tenant produced (of ``kind`` when given), as a download; 404 for no
    record, another kind, a job without a file, or a file gone. Also what the platform consoles download through."""
    if record is None or (kind is not None and record.kind != kind) or not record.has_file:
        abort(404)
    path: Path = path_for(record.result_file)
    if not path.exists():
        abort(404)
    return send_file(path, as_attachment=True, download_name=path.name, max_age=0)
