"""Staff pages of the residents feature (list, detail, create, edit, move out, vehicles, portal accounts, export)
and the resident's own 我的房屋."""
from __future__ import annotations

import sqlalchemy as sa
from flask import abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from ..auth.models import User
from ..auth.sessions import require_duty, require_role, require_staff
from ..core.navigation import add_nav
from ..errors import DomainError
from ..extensions import db
from ..property.models import Building
from ..tenancy.guards import tenant_only
from . import bp, services
from .export import start_export
from .forms import EditResidentForm, FilterForm, MoveOutForm, OccupancyForm, ResidentForm, VehicleForm
from .models import ROLE_NAMES
from .services import ResidentFilters

tenant_only(bp)
PER_PAGE = 20
DETAIL_FIELDS = ('name', 'mobile', 'other_phone', 'id_number', 'emergency_contact', 'emergency_phone', 'note')


def can_manage(user) -> bool:
    """Admins and staff on the service desk (客服) create, edit and move out residents."""
    return bool(user.is_authenticated and user.is_staff and user.has_duty('service_desk'))


require_manager = require_duty('service_desk')


def room_url(room_id: int) -> str | None:
    """The room's page when the property pages have one; otherwise the label is shown without a link."""
    if 'property.room' in current_app.view_functions:
        return url_for('property.room', room_id=room_id)
    return None


def _render(template: str, status: int = 200, **context):
    context.setdefault('can_manage', can_manage(current_user))
    return render_template(template, room_url=room_url, role_names=ROLE_NAMES, **context), status


def _today():
    return services.local_today(g.tenant.timezone)


def _resident_or_404(resident_id):
    resident = services.load_resident(resident_id)
    if resident is None:
        abort(404)
    return resident


def _field_error(form, error: DomainError, default: str) -> None:
    field = getattr(form, error.field, None) if error.field else None
    (field if field is not None else getattr(form, default)).errors.append(error.message)


# --- the list ------------------------------------------------------------------------------------------------

def _filter_form(formdata) -> FilterForm:
    form = FilterForm(formdata=formdata)
    buildings = db.session.execute(sa.select(Building.id, Building.name)
                                   .order_by(Building.sort_order, Building.name)).all()
    form.building_id.choices = [('', _('全部楼栋'))] + [(str(b.id), b.name) for b in buildings]
    return form


def _filters_of(form: FilterForm) -> ResidentFilters:
    return ResidentFilters.of(q=form.q.data, building_id=form.building_id.data, role=form.role.data,
                              status=form.status.data, has_vehicle=form.has_vehicle.data)


def _filter_args(filters: ResidentFilters) -> dict:
    """The query string of the filters, for the pager and the export button."""
    args = {'q': filters.q, 'building_id': filters.building_id or '', 'role': filters.role or '',
            'status': filters.status,
            'has_vehicle': '' if filters.has_vehicle is None else ('yes' if filters.has_vehicle else 'no')}
    return {key: value for key, value in args.items() if value not in ('', None)}


@bp.get('/residents')
@require_staff
def list_residents():
    form = _filter_form(request.args)
    try:
        if not form.validate():
            raise DomainError(_l('筛选条件有误，请检查后重试'))
        filters = _filters_of(form)
    except DomainError as e:
        _field_error(form, e, 'q')
        return _render('residents/list.html', 422, form=form, pagination=None, filters=None, filter_args={})
    page = min(max(request.args.get('page', 1, type=int) or 1, 1), 100_000)
    pagination = db.paginate(services.resident_select(filters), page=page, per_page=PER_PAGE, error_out=False)
    rows = [(resident, services.shown_occupancies(resident, filters)) for resident in pagination.items]
    return _render('residents/list.html', form=form, pagination=pagination, rows=rows, filters=filters,
                   filter_args=_filter_args(filters), mask=services.masked_info)


add_nav('residents.list_residents', _l('住户'), ('admin', 'staff'), after='core.home')


@bp.post('/residents/export')
@require_manager
def export_residents():
    """Export the list as filtered to Excel as a background job; the job page shows progress and the file."""
    form = _filter_form(request.form)
    try:
        if not form.validate():
            raise DomainError(_l('筛选条件有误，请检查后重试'))
        record = start_export(_filters_of(form), current_user.id)
    except DomainError as e:
        flash(e.message, 'error')
        return redirect(url_for('residents.list_residents')), 303
    flash(_('已开始：%(title)s', title=record.title))
    return redirect(url_for('jobs.job_detail', job_id=record.id))


# --- create, detail, edit -----------------------------------------------------------------------------------

@bp.route('/residents/new', methods=['GET', 'POST'])
@require_manager
def new_resident():
    form = ResidentForm()
    if form.validate_on_submit():
        try:
            resident = services.create_resident({f: getattr(form, f).data for f in DETAIL_FIELDS},
                                                room_text=form.room.data, role=form.role.data,
                                                moved_in_on=form.moved_in_on.data, today=_today())
        except DomainError as e:
            db.session.rollback()
            _field_error(form, e, 'name')
        else:
            db.session.commit()
            flash(_('已登记住户 %(name)s', name=resident.name))
            return redirect(url_for('residents.resident', resident_id=resident.id))
    status = 422 if request.method == 'POST' else 200
    return _render('residents/new.html', status, form=form)


def _render_detail(resident, status: int = 200, **forms):
    info, full = services.info_for(resident, current_user, 'page')
    grants = services.access_grants(resident)
    portal_user = db.session.get(User, resident.user_id) if resident.user_id else None
    if full:
        db.session.commit()  # the record of who saw the full values
    occupancies = sorted(resident.occupancies, key=lambda o: (o.moved_out_on is not None, o.room.code))
    forms.setdefault('occupancy_form', OccupancyForm(formdata=None))
    forms.setdefault('vehicle_form', VehicleForm(formdata=None))
    forms.setdefault('move_out_form', MoveOutForm(formdata=None))
    forms.setdefault('move_out_for', None)
    return _render('residents/detail.html', status, resident=resident, info=info, full=full,
                   occupancies=occupancies, grants=grants, portal_user=portal_user, **forms)


@bp.get('/residents/<int:resident_id>')
@require_staff
def resident(resident_id):
    return _render_detail(_resident_or_404(resident_id))


@bp.route('/residents/<int:resident_id>/edit', methods=['GET', 'POST'])
@require_manager
def edit_resident(resident_id):
    resident = _resident_or_404(resident_id)
    if request.method == 'GET':
        form = EditResidentForm(formdata=None, name=resident.name, emergency_contact=resident.emergency_contact,
                                note=resident.note)
    else:
        form = EditResidentForm()
        if form.validate_on_submit():
            values = {'name': form.name.data, 'emergency_contact': form.emergency_contact.data,
                      'note': form.note.data}
            for field in services.PERSONAL_FIELDS:
                typed = (getattr(form, field).data or '').strip()
                if field in (form.clear.data or []):
                    values[field] = None
                elif typed:
                    values[field] = typed
            try:
                services.update_resident(resident, values)
            except DomainError as e:
                db.session.rollback()
                _field_error(form, e, 'name')
            else:
                db.session.commit()
                flash(_('已保存 %(name)s 的资料', name=resident.name))
                return redirect(url_for('residents.resident', resident_id=resident.id))
    status = 422 if request.method == 'POST' else 200
    resident = _resident_or_404(resident_id)
    return _render('residents/edit.html', status, form=form, resident=resident, info=services.masked_info(resident))


# --- rooms: add a link, move out ----------------------------------------------------------------------------

@bp.post('/residents/<int:resident_id>/occupancies')
@require_manager
def add_occupancy(resident_id):
    resident = _resident_or_404(resident_id)
    form = OccupancyForm()
    if form.validate_on_submit():
        try:
            occupancy = services.add_occupancy(resident, room_text=form.room.data, role=form.role.data,
                                               moved_in_on=form.moved_in_on.data, today=_today())
        except DomainError as e:
            db.session.rollback()
            _field_error(form, e, 'room')
        else:
            db.session.commit()
            flash(_('已登记 %(name)s 入住 %(room)s', name=resident.name, room=occupancy.room.code))
            return redirect(url_for('residents.resident', resident_id=resident.id))
    return _render_detail(_resident_or_404(resident_id), 422, occupancy_form=form)


@bp.post('/residents/<int:resident_id>/occupancies/<int:occupancy_id>/end')
@require_manager
def end_occupancy(resident_id, occupancy_id):
    resident = _resident_or_404(resident_id)
    occupancy = services.occupancy_of(resident, occupancy_id)
    if occupancy is None:
        abort(404)
    form = MoveOutForm()
    if form.validate_on_submit():
        try:
            revoked = services.end_occupancy(occupancy, moved_out_on=form.moved_out_on.data, today=_today())
        except DomainError as e:
            db.session.rollback()
            _field_error(form, e, 'moved_out_on')
        else:
            room = occupancy.room.code
            db.session.commit()
            flash(_('%(name)s 已迁出 %(room)s', name=resident.name, room=room))
            if revoked:
                flash(_('已不在任何房屋居住，%(n)s 项门禁权限已自动注销', n=revoked))
            return redirect(url_for('residents.resident', resident_id=resident.id))
    return _render_detail(_resident_or_404(resident_id), 422, move_out_form=form, move_out_for=occupancy_id)


# --- vehicles -----------------------------------------------------------------------------------------------

@bp.post('/residents/<int:resident_id>/vehicles')
@require_manager
def add_vehicle(resident_id):
    resident = _resident_or_404(resident_id)
    form = VehicleForm()
    if form.validate_on_submit():
        try:
            vehicle = services.add_vehicle(resident, plate=form.plate.data, note=form.note.data)
        except DomainError as e:
            db.session.rollback()
            _field_error(form, e, 'plate')
        else:
            db.session.commit()
            flash(_('已登记车辆 %(plate)s', plate=vehicle.plate))
            return redirect(url_for('residents.resident', resident_id=resident.id))
    return _render_detail(_resident_or_404(resident_id), 422, vehicle_form=form)


@bp.post('/residents/<int:resident_id>/vehicles/<int:vehicle_id>/delete')
@require_manager
def remove_vehicle(resident_id, vehicle_id):
    resident = _resident_or_404(resident_id)
    vehicle = services.vehicle_of(resident, vehicle_id)
    if vehicle is None:
        abort(404)
    plate = vehicle.plate
    services.remove_vehicle(vehicle)
    db.session.commit()
    flash(_('已删除车辆 %(plate)s', plate=plate))
    return redirect(url_for('residents.resident', resident_id=resident.id))


# --- portal accounts ----------------------------------------------------------------------------------------

@bp.post('/residents/<int:resident_id>/portal-account')
@require_manager
def open_portal_account(resident_id):
    resident = _resident_or_404(resident_id)
    try:
        user, raw = services.open_portal_account(resident)
    except DomainError as e:
        db.session.rollback()
        flash(e.message, 'error')
        return redirect(url_for('residents.resident', resident_id=resident.id)), 303
    db.session.commit()
    if raw is None:
        flash(_('已关联现有住户账号 %(login)s', login=user.login_label))
        return redirect(url_for('residents.resident', resident_id=resident.id))
    link = url_for('auth.accept_invite', token=raw, _external=True)
    return _render('residents/portal_opened.html', resident=resident, invitee=user, link=link)


# --- the resident's own rooms -------------------------------------------------------------------------------

@bp.get('/my/rooms')
@require_role('resident')
def my_rooms():
    page = min(max(request.args.get('page', 1, type=int) or 1, 1), 100_000)
    pagination = db.paginate(services.my_occupancies_select(current_user.id), page=page, per_page=PER_PAGE,
                             error_out=False)
    households = services.households([o.room_id for o in pagination.items])
    mine = services.my_resident_ids(current_user.id)
    return _render('residents/my_rooms.html', pagination=pagination, households=households, mine=mine,
                   can_manage=False)


add_nav('residents.my_rooms', _l('我的房屋'), ('resident',), after='core.home')
