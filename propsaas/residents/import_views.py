"""Staff pages of the residents import (批量导入): upload, preview, commit, error report, template.

Who: tenant admins, and staff with the service desk duty (客服). Everything else is in import_services.
"""
from __future__ import annotations

import io

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired

from ..auth.sessions import require_duty
from ..core.navigation import add_nav
from ..errors import DomainError
from ..extensions import db
from ..jobs.models import JobRecord
from ..jobs.queue import QueueUnavailable, enqueue
from ..models_base import get_or_404
from ..storage import path_for
from . import bp
from . import import_services as services
from .models import ImportBatch

PER_PAGE = 20
XLSX_MIMETYPE = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'


class ImportUploadForm(FlaskForm):
    file = FileField(_l('住户表格（.xlsx 或 .csv）'), validators=[FileRequired(_l('请选择要导入的文件'))])


#: admins, and staff with the service desk duty; other staff and residents get 403
require_import_access = require_duty('service_desk')


def _batches_page():
    page = max(request.args.get('page', 1, type=int) or 1, 1)
    return db.paginate(services.list_batches(), page=page, per_page=PER_PAGE, error_out=False)


def _upload_page(form: ImportUploadForm, status: int = 200):
    return render_template('imports/upload.html', form=form, pagination=_batches_page(),
                           status_names=services.STATUS_NAMES), status


@bp.get('/residents/imports')
@require_import_access
def imports():
    return _upload_page(ImportUploadForm())


add_nav('residents.imports', _l('批量导入'), ('admin', 'staff'), after='residents.residents')


@bp.post('/residents/imports')
@require_import_access
def upload_import():
    form = ImportUploadForm()
    if not form.validate_on_submit():
        return _upload_page(form, 422)
    upload = form.file.data
    try:
        batch = services.start_import(upload.filename or '', upload.read(services.MAX_READ), current_user.id)
    except DomainError as e:
        db.session.rollback()
        form.file.errors.append(e.message)
        return _upload_page(form, 422)
    try:
        enqueue(services.preview_import, batch.id, key=services.preview_key(batch.id),
                requested_by_id=current_user.id)
    except QueueUnavailable as e:
        flash(e.message, 'error')
    return redirect(url_for('residents.import_batch', batch_id=batch.id), 303)


@bp.post('/residents/imports/template')
@require_import_access
def import_template():
    """The template is made by a job like every other download, so files only ever come from jobs.download."""
    try:
        record = enqueue(services.import_template_file, key='residents-import-template',
                         requested_by_id=current_user.id)
    except QueueUnavailable as e:
        flash(e.message, 'error')
        return redirect(url_for('residents.imports'), 303)
    if record.status == JobRecord.DONE:
        return redirect(url_for('jobs.download', job_id=record.id), 303)
    return redirect(url_for('jobs.job_detail', job_id=record.id), 303)


@bp.get('/residents/imports/<int:batch_id>')
@require_import_access
def import_batch(batch_id):
    batch = get_or_404(ImportBatch, batch_id)
    kind = request.args.get('kind') or None
    if kind not in dict(services.iter_kinds()):
        kind = None
    page = max(request.args.get('page', 1, type=int) or 1, 1)
    items, total = services.preview_rows(batch, kind, page, PER_PAGE)
    pages = max((total + PER_PAGE - 1) // PER_PAGE, 1)
    return render_template('imports/batch.html', batch=batch, job=services.running_job(batch),
                           rows=[services.display_row(item) for item in items], total=total, page=page, pages=pages,
                           kind=kind, kinds=list(services.iter_kinds()), stats=batch.stats or {},
                           can_commit=services.can_commit(batch), status_names=services.STATUS_NAMES)


@bp.post('/residents/imports/<int:batch_id>/commit')
@require_import_access
def commit_import(batch_id):
    batch = get_or_404(ImportBatch, batch_id)
    try:
        services.claim_commit(batch)
    except DomainError as e:
        db.session.rollback()
        flash(e.message, 'error')
        return redirect(url_for('residents.import_batch', batch_id=batch_id), 303)
    try:
        enqueue(services.commit_import, batch_id, key=services.commit_key(batch_id), requested_by_id=current_user.id)
    except QueueUnavailable as e:
        flash(e.message, 'error')
    db.session.expire_all()
    batch = get_or_404(ImportBatch, batch_id)
    if batch.status == services.COMMITTED:
        flash(_('导入完成'))
    elif batch.status == services.FAILED:
        flash(batch.error or _('导入失败'), 'error')
    return redirect(url_for('residents.import_batch', batch_id=batch_id), 303)


@bp.get('/residents/imports/<int:batch_id>/errors.xlsx')
@require_import_access
def import_errors(batch_id):
    batch = get_or_404(ImportBatch, batch_id)
    if not batch.report_file:
        abort(404)
    path = path_for(batch.report_file)
    if not path.exists():
        abort(404)
    return send_file(io.BytesIO(path.read_bytes()), mimetype=XLSX_MIMETYPE, as_attachment=True,
                     download_name=f'导入错误报告-{batch.id}.xlsx')
