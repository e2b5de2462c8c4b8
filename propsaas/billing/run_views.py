"""Bill run pages (出账): the list with the new-run form and its preview, one run with its progress and bills, void."""
from __future__ import annotations

import sqlalchemy as sa
from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from ..auth.sessions import require_duty
from ..errors import DomainError
from ..extensions import db
from ..jobs.models import JobRecord
from ..money import format_yuan
from ..property.models import Building
from . import bills as queries
from . import bp, documents
from . import runs as services
from .models import BILL_STATUS_NAMES, LATE_FEE, BillRun, FeeItem
from .pdf_views import PdfJobForm
from .run_forms import RunForm, VoidRunForm

PER_PAGE = 20
RUN_STATUS_NAMES = {'pending': _l('等待中'), 'running': _l('出账中'), 'done': _l('已完成'), 'failed': _l('失败'),
                    'voided': _l('已作废')}


def _context(**extra) -> dict:
    return {'yuan': format_yuan, 'run_status_names': RUN_STATUS_NAMES, 'bill_status_names': BILL_STATUS_NAMES,
            'skip_reasons': services.SKIP_REASONS, **extra}


def _buildings():
    return db.session.execute(sa.select(Building).order_by(Building.sort_order, Building.name)).scalars().all()


def _run_form() -> RunForm:
    form = RunForm()
    form.building_id.choices = [('', _('全部楼栋'))] + [(b.id, b.name) for b in _buildings()]
    items = db.session.execute(sa.select(FeeItem).where(FeeItem.active.is_(True), FeeItem.recurring.is_(True),
                                                        FeeItem.charging != LATE_FEE)
                               .order_by(FeeItem.sort_order, FeeItem.id)).scalars().all()
    form.fee_item_ids.choices = [(item.id, item.name) for item in items]
    if request.method == 'GET':
        today = services.tenant_today(g.tenant)
        form.period.data = f'{today.year}-{today.month:02d}'
        form.due_on.data = services.add_months(today.replace(day=15), 1)
    return form


def _list_page(form: RunForm, preview: dict | None = None, status: int = 200):
    page = max(request.args.get('page', 1, type=int), 1)
    pagination = db.paginate(sa.select(BillRun).order_by(BillRun.created_at.desc(), BillRun.id.desc()),
                             page=page, per_page=PER_PAGE, error_out=False)
    names = dict(db.session.execute(sa.select(Building.id, Building.name)).all())
    return render_template('billing/runs.html', form=form, preview=preview, pagination=pagination,
                           building_names=names, filters={}, **_context()), status


@bp.get('/billing/runs')
@require_duty('cashier')
def runs():
    """出账: the runs so far, newest first, and the form for a new one."""
    return _list_page(_run_form())


def _form_error(form, error: DomainError) -> None:
    name = {'fee_item_ids': 'fee_item_ids', 'building_id': 'building_id', 'due_on': 'due_on',
            'period': 'period'}.get(error.field or '')
    if name is None:
        flash(error.message, 'error')
    else:
        field = getattr(form, name)
        field.errors = [*field.errors, error.message]


@bp.post('/billing/runs')
@require_duty('cashier')
def start_run():
    """“预览” shows what would be billed without saving anything; “出账” records the run and starts its job."""
    form = _run_form()
    if not form.validate_on_submit():
        return _list_page(form, status=422)
    args = {'building_id': form.building_id.data, 'fee_item_ids': form.fee_item_ids.data or []}
    if request.form.get('action') == 'preview':
        try:
            preview = services.preview(g.tenant, form.period.data, **args)
        except DomainError as e:
            db.session.rollback()
            _form_error(form, e)
            return _list_page(form, status=e.status_code)
        db.session.rollback()  # a preview writes nothing
        return _list_page(form, preview=preview)
    try:
        run = services.start_run(g.tenant, form.period.data, due_on=form.due_on.data, notify=form.notify.data,
                                 by_user_id=current_user.id, **args)
    except DomainError as e:
        db.session.rollback()
        _form_error(form, e)
        return _list_page(form, status=e.status_code)
    db.session.commit()
    flash(_('已开始出账 %(period)s，完成后可在此查看账单', period=run.period))
    return redirect(url_for('billing.run_detail', run_id=run.id))


def _detail(run: BillRun, void_form: VoidRunForm | None = None, status: int = 200):
    record = None
    if run.job_id is not None:
        record = db.session.execute(sa.select(JobRecord).where(JobRecord.id == run.job_id)).scalar_one_or_none()
    page = max(request.args.get('page', 1, type=int), 1)
    pagination = db.paginate(queries.list_query(run_id=run.id), page=page, per_page=PER_PAGE, error_out=False)
    building = db.session.get(Building, run.building_id) if run.building_id else None
    return render_template('billing/runs_detail.html', run=run, record=record, pagination=pagination,
                           payers=queries.payers(pagination.items), place=queries.place, building=building,
                           void_form=void_form or VoidRunForm(), filters={}, pdf_jobs=documents.run_jobs(run.id),
                           pdf_form=PdfJobForm(), **_context()), status


@bp.get('/billing/runs/<int:run_id>')
@require_duty('cashier')
def run_detail(run_id):
    return _detail(queries.load_run(run_id))


@bp.post('/billing/runs/<int:run_id>/void')
@require_duty('cashier')
def void_run(run_id):
    run = queries.load_run(run_id)
    form = VoidRunForm()
    if not form.validate_on_submit():
        return _detail(run, form, 422)
    try:
        count = services.void_run(run, form.reason.data, by_user_id=current_user.id)
    except DomainError as e:
        db.session.rollback()
        if e.field == 'reason':
            form.reason.errors = [*form.reason.errors, e.message]
        else:
            flash(e.message, 'error')
        return _detail(queries.load_run(run_id), form, e.status_code)
    db.session.commit()
    flash(_('已作废 %(n)s 张未缴账单', n=count))
    return redirect(url_for('billing.run_detail', run_id=run_id))
