"""The operator console's 「项目数据」 page per project: its onboarding pack (交付包, regenerate and download), export
its data whole (and download the zip), delete it (the slug typed to confirm), restore it during the grace period.
Every action lands in the operators' log."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..errors import DomainError
from ..extensions import db
from ..jobs.models import JobRecord
from ..jobs.queue import QueueUnavailable, enqueue
from ..jobs.views import send_result_file
from ..models_base import get_or_404
from ..onboarding import pack
from ..projectdata import deletion
from ..projectdata.export import export_project_data
from ..projectdata.forms import DeleteProjectForm
from ..projectdata.views import latest_export
from ..tenancy.clock import local_datetime
from ..tenancy.context import tenant_scope
from ..tenancy.models import Tenant
from ..tenancy.provisioning import find_tenant
from . import audit, bp
from .views import operator_required


def _project_or_404(slug: str) -> Tenant:
    tenant = find_tenant(slug)
    if tenant is None:
        abort(404)
    return tenant


def _render(tenant: Tenant, form: DeleteProjectForm | None = None, status: int = 200):
    with tenant_scope(tenant.id):
        record = latest_export()
        page = render_template('platform/project_data.html', project=tenant, record=record, pack=pack.latest_pack(),
                               form=form or DeleteProjectForm(formdata=None), grace_days=deletion.grace_days(),
                               local_datetime=local_datetime)
    return page, status


@bp.get('/operator/tenants/<slug>/data')
@operator_required
def project_data(slug):
    return _render(_project_or_404(slug))


@bp.post('/operator/tenants/<slug>/export')
@operator_required
def export_project(slug):
    """Start the project's whole export (a deleted one too, during its grace period: the company may ask for it)."""
    tenant = _project_or_404(slug)
    return _start_job(tenant, 'export', lambda: enqueue(export_project_data),
                      _('已开始导出 %(name)s 的全部数据', name=tenant.name))


@bp.post('/operator/tenants/<slug>/onboarding-pack')
@operator_required
def regenerate_pack(slug):
    """Render the project's onboarding pack again (new activation codes: the previous sheets stop working)."""
    tenant = _project_or_404(slug)
    return _start_job(tenant, 'onboarding_pack', pack.request_pack, _('正在生成 %(name)s 的交付包', name=tenant.name))


def _start_job(tenant: Tenant, action: str, start, started: str):
    """Log the operator's ``action`` and ``start()`` the project's job in its scope (enqueueing commits the log entry
    with the job's record); back to the project's page, saying what happened."""
    audit.record(current_user, action, tenant_id=tenant.id, detail=tenant.slug)
    with tenant_scope(tenant.id):
        try:
            start()
        except QueueUnavailable as e:
            flash(e.message, 'error')
        else:
            flash(started)
    return redirect(url_for('platform.project_data', slug=tenant.slug))


#: the jobs whose file an operator downloads from a project's page
DOWNLOADABLE = {export_project_data.job_spec.name, pack.render_onboarding_pack.job_spec.name}


@bp.get('/operator/tenants/<slug>/jobs/<int:job_id>/download')
@operator_required
def download_job_file(slug, job_id):
    """The export's zip or the onboarding pack, when the job record is this project's one of those and is done;
    anything else 404."""
    tenant = _project_or_404(slug)
    with tenant_scope(tenant.id):
        record = get_or_404(JobRecord, job_id)
        if record.kind not in DOWNLOADABLE:
            abort(404)
        return send_result_file(record)


@bp.post('/operator/tenants/<slug>/delete')
@operator_required
def delete_project(slug):
    tenant = _project_or_404(slug)
    form = DeleteProjectForm()
    if not form.validate_on_submit():
        return _render(tenant, form, 422)
    try:
        tenant = deletion.delete_project(slug, form.confirmation.data)
    except DomainError as e:
        db.session.rollback()
        form.confirmation.errors = [*form.confirmation.errors, e.message]
        return _render(_project_or_404(slug), form, e.status_code)
    audit.record(current_user, 'delete', tenant_id=tenant.id, detail=tenant.slug)
    db.session.commit()
    flash(_('已删除 %(name)s：%(date)s 前可以恢复，之后全部数据和文件将被清除',
            name=tenant.name, date=local_datetime(tenant.purge_after, tenant, '%Y-%m-%d %H:%M')))
    return redirect(url_for('platform.tenants'))


@bp.post('/operator/tenants/<slug>/restore')
@operator_required
def restore_project(slug):
    _project_or_404(slug)
    try:
        tenant = deletion.restore_project(slug)
    except DomainError as e:
        db.session.rollback()
        flash(e.message, 'error')
        return redirect(url_for('platform.project_data', slug=slug))
    audit.record(current_user, 'restore', tenant_id=tenant.id, detail=tenant.slug)
    db.session.commit()
    flash(_('已恢复 %(name)s', name=tenant.name))
    return redirect(url_for('platform.tenants'))


