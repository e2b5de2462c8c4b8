"""Access permission pages (门禁): gates, a resident's grants with history, grant, revoke, the CSV export."""
from __future__ import annotations

from datetime import UTC, datetime

from flask import Response, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from ..auth.models import mask_mobile
from ..auth.sessions import require_role, require_staff
from ..core.navigation import add_nav
from ..errors import DomainError
from ..extensions import db
from ..models_base import get_or_404
from . import access as services
from . import bp
from .models import AccessGrant, Gate, Resident
from .renovation_forms import GateForm, GrantForm, RenameGateForm, RevokeForm
from .renovations import local_datetime

PER_PAGE = 20
KIND_LABELS = {'card': _l('门禁卡'), 'face': _l('人脸'), 'qr': _l('二维码')}


def _context(**extra) -> dict:
    return {'kind_labels': KIND_LABELS, 'mask_mobile': mask_mobile,
            'local': lambda value: local_datetime(value, g.tenant), **extra}


def _add_error(form, error: DomainError, default: str, *, form_shown: bool = True) -> None:
    """Next to its field when the form is on the page; otherwise (or about the whole record) at the top."""
    if error.field is None or not form_shown:
        flash(error.message, 'error')
        return
    field = getattr(form, error.field or default, None) or getattr(form, default)
    field.errors = [*field.errors, error.message]


# --- gates and finding a resident ----------------------------------------------------------------------------------

def _index(status: int = 200, gate_form: GateForm | None = None):
    page = max(request.args.get('page', 1, type=int), 1)
    gates = db.paginate(services.gates_query(), page=page, per_page=PER_PAGE, error_out=False)
    return render_template('access/index.html', gates=gates, gate_form=gate_form or GateForm(),
                           can_manage_gates=services.can_manage_gates(current_user),
                           can_export=services.can_manage_grants(current_user), **_context()), status


@bp.get('/access')
@require_staff
def access_home():
    """The gates (admins add, rename, deactivate them), finding a resident, and the export download."""
    return _index()


add_nav('residents.access_home', _l('门禁'), ('admin', 'staff'))


@bp.post('/access/gates')
@require_role('admin')
def create_gate():
    form = GateForm()
    if form.validate_on_submit():
        try:
            gate = services.create_gate(form.code.data, form.name.data)
        except DomainError as e:
            db.session.rollback()
            _add_error(form, e, 'code')
        else:
            db.session.commit()
            flash(_('已添加门禁点 %(name)s', name=gate.name))
            return redirect(url_for('residents.access_home'))
    return _index(422, gate_form=form)


@bp.post('/access/gates/<int:gate_id>/rename')
@require_role('admin')
def rename_gate(gate_id):
    gate = get_or_404(Gate, gate_id)
    form = RenameGateForm()
    try:
        if not form.validate_on_submit():
            raise DomainError(_l('请填写门禁点名称（最多 60 个字）'), field='name')
        services.rename_gate(gate, form.name.data)
    except DomainError as e:
        db.session.rollback()
        flash(e.message, 'error')
        return _index(422)
    db.session.commit()
    flash(_('已改名为 %(name)s', name=gate.name))
    return redirect(url_for('residents.access_home'))


@bp.post('/access/gates/<int:gate_id>/deactivate')
@require_role('admin')
def deactivate_gate(gate_id):
    gate = services.set_gate_active(get_or_404(Gate, gate_id), False)
    db.session.commit()
    flash(_('已停用门禁点 %(name)s：同步后该门禁点的所有授权失效', name=gate.name))
    return redirect(url_for('residents.access_home'))


@bp.post('/access/gates/<int:gate_id>/reactivate')
@require_role('admin')
def reactivate_gate(gate_id):
    gate = services.set_gate_active(get_or_404(Gate, gate_id), True)
    db.session.commit()
    flash(_('已启用门禁点 %(name)s', name=gate.name))
    return redirect(url_for('residents.access_home'))


@bp.get('/access/residents')
@require_staff
def find_residents():
    """Find a resident by name, mobile or room address, to open their access page."""
    q = (request.args.get('q') or '').strip()[:60]
    page = max(request.args.get('page', 1, type=int), 1)
    pagination = db.paginate(services.search_residents(q), page=page, per_page=PER_PAGE, error_out=False)
    rooms = services.current_rooms(r.id for r in pagination.items)
    return render_template('access/residents.html', q=q, pagination=pagination, rooms=rooms, **_context())


# --- a resident's grants -----------------------------------------------------------------------------------------

def _grant_form() -> GrantForm:
    form = GrantForm()
    form.gates.choices = [SelectChoice(gate.id, gate.name) for gate in services.gates(active_only=True)]
    return form


def _resident_page(resident: Resident, status: int = 200, grant_form: GrantForm | None = None,
                   revoke_errors: dict | None = None):
    active = services.active_grants(resident)
    page = max(request.args.get('page', 1, type=int), 1)
    revoked = db.paginate(services.revoked_grants_query(resident), page=page, per_page=PER_PAGE, error_out=False)
    rooms = services.current_rooms([resident.id])[resident.id]
    return render_template('access/resident.html', resident=resident, active=active, revoked=revoked, rooms=rooms,
                           grant_form=grant_form or _grant_form(), revoke_form=RevokeForm(),
                           revoke_errors=revoke_errors or {}, can_manage=services.can_manage_grants(current_user),
                           **_context()), status


@bp.get('/access/residents/<int:resident_id>')
@require_staff
def resident_access(resident_id):
    """The grants of one resident: active ones (revocable) and the history of revoked ones."""
    return _resident_page(get_or_404(Resident, resident_id))


@bp.post('/access/residents/<int:resident_id>/grants')
@require_staff
def grant_access(resident_id):
    resident = get_or_404(Resident, resident_id)
    if not services.can_manage_grants(current_user):
        abort(403)
    form = _grant_form()
    if form.validate_on_submit():
        try:
            chosen = [gate for gate in services.gates(active_only=True) if gate.id in set(form.gates.data or [])]
            if not chosen:
                raise DomainError(_l('请选择至少一个门禁点'), field='gates')
            credentials = services.clean_credentials([('card', form.card_ref.data), ('qr', form.qr_ref.data),
                                                      ('face', form.face_ref.data)])
            grants = services.grant_access(resident, chosen, credentials)
        except DomainError as e:
            db.session.rollback()
            _add_error(form, e, 'gates', form_shown=services.is_living(get_or_404(Resident, resident_id)))
        else:
            db.session.commit()
            flash(_('已开通 %(n)s 项门禁授权', n=len(grants)))
            return redirect(url_for('residents.resident_access', resident_id=resident.id))
    return _resident_page(get_or_404(Resident, resident_id), 422, grant_form=form)


@bp.post('/access/grants/<int:grant_id>/revoke')
@require_staff
def revoke_grant(grant_id):
    grant = get_or_404(AccessGrant, grant_id)
    if not services.can_manage_grants(current_user):
        abort(403)
    form = RevokeForm()
    try:
        if not form.validate_on_submit():
            raise DomainError(_l('请填写撤销原因（最多 200 个字）'), field='reason')
        services.revoke_grant(grant, form.reason.data)
    except DomainError as e:
        db.session.rollback()
        grant = get_or_404(AccessGrant, grant_id)
        if grant.revoked_at is not None:  # its row is in the history now: say it at the top
            flash(e.message, 'error')
        return _resident_page(get_or_404(Resident, grant.resident_id), 422, revoke_errors={grant.id: e.message})
    db.session.commit()
    flash(_('已撤销授权'))
    return redirect(url_for('residents.resident_access', resident_id=grant.resident_id))


# --- the door-controller export as a download --------------------------------------------------------------------

@bp.get('/access/export.csv')
@require_staff
def export_access_csv():
    """Every grant (active and revoked) as CSV, as the controller export gives it; cells neutralised."""
    if not services.can_manage_grants(current_user):
        abort(403)
    rows, cursor = [], None
    while True:  # the whole export, page by page (a small project has a few thousand grants)
        page = services.export_grants(cursor=cursor, limit=services.EXPORT_MAX_LIMIT)
        rows.extend(page.rows)
        if not page.has_more:
            break
        cursor = page.cursor
    stamp = datetime.now(UTC).strftime('%Y%m%d-%H%M%S')
    return Response(services.export_csv(rows), mimetype='text/csv',
                    headers={'Content-Disposition': f'attachment; filename="access-grants-{stamp}.csv"',
                             'Cache-Control': 'no-store'})
