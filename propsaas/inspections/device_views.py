"""The equipment ledger pages (设备台账) under /equipment: the list with filters, a device's page (what its QR label
opens: details, certificates, its inspection tasks), new/edit, the certificates due for renewal, the QR label sheet
(PDF) and the .xlsx export.

Who: admins and staff with the technician (维修) or lift safety (电梯安全管理员) duty may look; admins and technicians
may change devices and certificates. Residents get 403. Another project's device or certificate is 404; a bad form
answers 422 with the message and saves nothing.
"""
from __future__ import annotations

import io

from flask import abort, flash, g, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from ..auth.sessions import require_duty
from ..core.navigation import add_nav
from ..errors import DomainError
from ..extensions import db
from ..money import format_yuan
from ..repairs.models import STATUS_NAMES as ORDER_STATUS_NAMES
from ..tenancy import clock
from ..tenancy.clock import local_datetime
from . import bp, devices, labels, maintenance
from .device_forms import ActionForm, CertificateForm, DeviceForm
from .models import DEVICE_CATEGORY_NAMES, DEVICE_STATUS_NAMES, TASK_STATUS_NAMES, Device

PER_PAGE = 30
XLSX = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'
require_ledger = require_duty('technician', 'lift_safety')
require_editor = require_duty('technician')


def _today():
    return clock.tenant_today(g.tenant, clock.now_utc())


def _context(**extra) -> dict:
    return {'categories': DEVICE_CATEGORY_NAMES, 'statuses': DEVICE_STATUS_NAMES, 'today': _today(),
            'state_of': devices.certificate_state, 'next_certificate': devices.next_certificate,
            'place': devices.place, 'can_edit': current_user.has_duty('technician'), **extra}


def _first_error(form) -> str:
    for errors in form.errors.values():
        if errors:
            return str(errors[0])
    return _('页面已过期，请重试')


@bp.get('/equipment', endpoint='devices')
@require_ledger
def device_list():
    """The ledger: filters, a page of devices with warranty and certificate flags."""
    filters = devices.LedgerFilters.from_args(request.args)
    page = max(request.args.get('page', 1, type=int) or 1, 1)
    pagination = db.paginate(devices.ledger_query(filters), page=page, per_page=PER_PAGE, error_out=False)
    return render_template('inspections/device_list.html', **_context(
        pagination=pagination, filters=filters, args=filters.as_args(), buildings=devices.buildings()))


add_nav('inspections.devices', _l('设备台账'), ('admin', 'staff'), duties=('technician', 'lift_safety'))


def _form_page(form, device=None, status=200, error=None):
    return render_template('inspections/device_form.html', **_context(
        form=form, device=device, buildings=devices.buildings(), error=error)), status


@bp.get('/equipment/new', endpoint='new_device')
@require_editor
def new_device():
    return _form_page(DeviceForm())


@bp.post('/equipment/new', endpoint='create_device')
@require_editor
def create_device():
    form = DeviceForm()
    if not form.validate_on_submit():
        return _form_page(form, status=422, error=_first_error(form))
    try:
        device = devices.save_device(None, **form.values())
    except DomainError as e:
        db.session.rollback()
        return _form_page(form, status=422, error=e.message)
    db.session.commit()
    flash(_('已添加设备 %(code)s', code=device.code))
    return redirect(url_for('inspections.device', device_id=device.id), 303)


@bp.get('/equipment/<int:device_id>/edit', endpoint='edit_device')
@require_editor
def edit_device(device_id):
    device = devices.load_device(device_id)
    return _form_page(DeviceForm(obj=device), device)


@bp.post('/equipment/<int:device_id>/edit', endpoint='update_device')
@require_editor
def update_device(device_id):
    device = devices.load_device(device_id)
    form = DeviceForm()
    if not form.validate_on_submit():
        return _form_page(form, device, 422, _first_error(form))
    try:
        devices.save_device(device, **form.values())
    except DomainError as e:
        db.session.rollback()
        return _form_page(form, devices.load_device(device_id), 422, e.message)
    db.session.commit()
    flash(_('已保存设备 %(code)s', code=device.code))
    return redirect(url_for('inspections.device', device_id=device.id), 303)


def _device_page(device: Device, status: int = 200, error=None, certificate_form=None):
    return render_template('inspections/device_detail.html', **_context(
        device=device, tasks=devices.recent_tasks(device, clock.now_utc()),
        to_do=devices.tasks_to_do(device, clock.now_utc()), work_orders=devices.work_orders_of(device),
        records=maintenance.records_of(device), stock_parts=maintenance.parts_in_stock(),
        failures=devices.failures_of(device, _today(), clock.tenant_zone(g.tenant)),
        format_yuan=format_yuan, part_rows=range(5),
        order_statuses=ORDER_STATUS_NAMES, task_statuses=TASK_STATUS_NAMES,
        local_datetime=local_datetime, superseded=devices.superseded_ids(device), error=error,
        certificate_form=certificate_form or CertificateForm(), action_form=ActionForm())), status


@bp.get('/equipment/<int:device_id>', endpoint='device')
@require_ledger
def device_page(device_id):
    """One device: details, certificates, its latest inspection tasks (the QR label opens this page)."""
    return _device_page(devices.load_device(device_id))


def _certificate_refused(device_id: int, message, form=None):
    db.session.rollback()
    return _device_page(devices.load_device(device_id), 422, message, form)


def _certificate_done(device_id: int, message):
    db.session.commit()
    flash(message)
    return redirect(url_for('inspections.device', device_id=device_id) + '#certificates', 303)


@bp.post('/equipment/<int:device_id>/certificates', endpoint='add_certificate')
@require_editor
def add_certificate(device_id):
    device = devices.load_device(device_id)
    form = CertificateForm()
    if not form.validate_on_submit():
        return _certificate_refused(device_id, _first_error(form), form)
    try:
        certificate = devices.add_certificate(device, **form.values())
    except DomainError as e:
        return _certificate_refused(device_id, e.message, form)
    return _certificate_done(device_id, _('已添加证书 %(name)s', name=certificate.name))


@bp.post('/equipment/<int:device_id>/certificates/<int:certificate_id>', endpoint='update_certificate')
@require_editor
def update_certificate(device_id, certificate_id):
    device = devices.load_device(device_id)
    certificate = devices.certificate_of(device, certificate_id)
    form = CertificateForm()
    if not form.validate_on_submit():
        return _certificate_refused(device_id, _first_error(form))
    try:
        devices.update_certificate(certificate, **form.values())
    except DomainError as e:
        return _certificate_refused(device_id, e.message)
    return _certificate_done(device_id, _('已保存证书 %(name)s', name=certificate.name))


@bp.post('/equipment/<int:device_id>/certificates/<int:certificate_id>/delete', endpoint='remove_certificate')
@require_editor
def remove_certificate(device_id, certificate_id):
    device = devices.load_device(device_id)
    certificate = devices.certificate_of(device, certificate_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    name = certificate.name
    devices.remove_certificate(certificate)
    return _certificate_done(device_id, _('已删除证书 %(name)s', name=name))


@bp.get('/equipment/certificates', endpoint='certificates_due')
@require_ledger
def certificates_due():
    """Certificates expired or within their remind_days, soonest first: what to renew."""
    today = _today()
    return render_template('inspections/device_certificates.html', **_context(
        certificates=devices.certificates_due(today)))


@bp.get('/equipment/labels.pdf', endpoint='device_labels')
@require_ledger
def device_labels():
    """The QR label sheet of ?ids=1,2,3 (this project's only) or of the ledger's filters."""
    try:
        ids = devices.parse_ids(request.args.get('ids'))
        chosen = devices.devices_for_labels(devices.LedgerFilters.from_args(request.args), ids)
        data = labels.labels_pdf(chosen, g.tenant)
    except DomainError as e:
        db.session.rollback()
        return render_template('errors/error.html', status=422, message=e.message), 422
    return send_file(io.BytesIO(data), mimetype='application/pdf', as_attachment=False,
                     download_name=f'equipment-labels-{_today().isoformat()}.pdf')


@bp.get('/equipment/export.xlsx', endpoint='devices_export')
@require_ledger
def devices_export():
    """The ledger (with the list's filters) as .xlsx."""
    filters = devices.LedgerFilters.from_args(request.args)
    rows = db.session.execute(devices.ledger_query(filters)).scalars().unique().all()
    data = devices.export_xlsx(rows, _today())
    return send_file(io.BytesIO(data), as_attachment=True, mimetype=XLSX,
                     download_name=f'equipment-{_today().isoformat()}.xlsx')
