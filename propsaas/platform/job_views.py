"""The operator console's job queues (任务队列): queue health per queue, every project's job records by kind, the
latest failed jobs and retrying one."""
from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..errors import DomainError
from ..extensions import db
from ..jobs import health
from ..jobs.models import JobRecord
from ..jobs.queue import QueueUnavailable, retry
from ..models_base import get_or_404
from ..tenancy.clock import local_datetime
from ..tenancy.context import tenant_scope
from . import audit, bp
from .views import operator_required


@bp.get('/operator/jobs')
@operator_required
def job_queues():
    return render_template('platform/jobs.html', health=health.queue_health(), kinds=health.record_figures(),
                           failed=health.failed_records(), local_datetime=local_datetime)


@bp.post('/operator/jobs/<int:job_id>/retry')
@operator_required
def retry_job(job_id):
    tenant_id = health.tenant_of_record(job_id)
    if tenant_id is None:
        abort(404)
    with tenant_scope(tenant_id):
        record: JobRecord = get_or_404(JobRecord, job_id)
        try:
            audit.record(current_user, 'retry_job', tenant_id=tenant_id, detail=f'#{job_id} {record.title}')
            retry(record)  # commits the audit entry with the record
        except QueueUnavailable as e:
            flash(e.message, 'error')  # recorded as queued: it is sent when the queue is back
        except DomainError as e:
            db.session.rollback()
            flash(e.message, 'error')
        else:
            flash(_('已重新排队：%(title)s', title=record.title))
    return redirect(url_for('platform.job_queues'))
