"""Staff pages of the property feature: buildings, units, rooms (search, edit, rename, merge) and parking spaces.

Staff (admin, staff) can look; admins and the service desk (客服) can change. Another tenant's objects are 404.
"""
from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.orm import selectinload
from wtforms.fields.choices import SelectChoice

from ..auth.models import User
from ..auth.sessions import require_duty, require_staff
from ..core.navigation import add_nav
from ..errors import DomainError
from ..extensions import db
from ..models_base import get_or_404
from ..residents import renovations
from ..residents.models import Occupancy
from ..tenancy.guards import tenant_only
from . import bp, services
from .forms import BuildingForm, BuildingPatternForm, MergeForm, RenameForm, RoomForm, SpaceForm
from .models import ROOM_STATUSES, ROOM_TYPES, SPACE_KINDS, Building, ParkingSpace, Room, Unit

tenant_only(bp)
PER_PAGE = 20
MAX_PAGE = 100_000
EDIT_DUTY = 'service_desk'


#: staff who may change the property structure: admins and the service desk
require_editor = require_duty(EDIT_DUTY)


def can_edit() -> bool:
    return bool(current_user.is_authenticated and getattr(current_user, 'is_staff', False)
                and current_user.has_duty(EDIT_DUTY))


@bp.context_processor
def _property_helpers():
    settings = services.property_settings(g.get('tenant'))
    return {'settings': settings, 'status_labels': services.ROOM_STATUS_LABELS, 'type_name': settings.type_name,
            'kind_labels': services.SPACE_KIND_LABELS, 'format_area': services.format_area,
            'can_edit': can_edit()}


def _page() -> int:
    return min(max(request.args.get('page', 1, type=int) or 1, 1), MAX_PAGE)


def _paginate(select):
    return db.paginate(select, page=_page(), per_page=PER_PAGE, error_out=False)


def _show_error(form, error: DomainError) -> str | None:
    """Put a service's refusal next to its field; returns it when no field of the form matches."""
    target = getattr(form, error.field, None) if error.field else None
    if target is not None and hasattr(target, 'errors'):
        target.errors = [*list(target.errors or []), error.message]
        return None
    return error.message


def _choice(value: str | None, allowed) -> str | None:
    return value if value in allowed else None


# --- buildings -----------------------------------------------------------------------------------------------------

@bp.get('/property/buildings')
@require_staff
def buildings():
    pagination = _paginate(services.buildings_query())
    counts = services.room_counts([b.id for b in pagination.items])
    return render_template('property/buildings.html', pagination=pagination, counts=counts)


add_nav('property.buildings', _l('房屋'), ('admin', 'staff'), after='core.home')


def _pattern_form(settings) -> BuildingPatternForm:
    form = BuildingPatternForm()
    form.type.choices = [SelectChoice(code, name) for code, name in settings.room_types]
    if request.method == 'GET':
        form.type.data = settings.default_type
    return form


def _pattern_from(form: BuildingPatternForm) -> services.BuildingPattern:
    return services.BuildingPattern(name=form.name.data, units=form.units.data, floors=form.floors.data,
                                    rooms_per_floor=form.rooms_per_floor.data, numbering=form.numbering.data,
                                    has_lift=form.has_lift.data, areas=tuple(form.area_list()), type=form.type.data)


@bp.route('/property/buildings/new', methods=['GET', 'POST'])
@require_editor
def new_building():
    """Create a building from a pattern: preview what it makes, then create it all in one transaction."""
    settings = services.property_settings(g.tenant)
    form = _pattern_form(settings)
    if request.method == 'GET':
        return render_template('property/new_building.html', form=form, plan=None, error=None)
    error = None
    if form.validate_on_submit():
        try:
            pattern = _pattern_from(form)
            if request.form.get('action') == 'create':
                building = services.create_building(pattern, by_user_id=current_user.id,
                                                    allowed_types=settings.type_codes)
                count = services.plan_building(pattern).count
                db.session.commit()
                flash(_('已创建 %(name)s：%(units)s 个单元，共 %(count)s 间房',
                        name=building.name, units=pattern.units, count=count))
                return redirect(url_for('property.building', building_id=building.id))
            plan = services.preview_building(pattern, settings.type_codes)
            return render_template('property/new_building.html', form=form, plan=plan, error=None)
        except DomainError as e:
            error = _show_error(form, e)
    return render_template('property/new_building.html', form=form, plan=None, error=error), 422


@bp.get('/property/buildings/<int:building_id>')
@require_staff
def building(building_id):
    building = get_or_404(Building, building_id)
    units = building.units
    unit = None
    if units:
        wanted = request.args.get('unit', type=int)
        unit = next((u for u in units if u.id == wanted), units[0])
    rooms = services.units_rooms(building, unit)
    floors: dict[int | None, list[Room]] = {}
    for room in rooms:
        floors.setdefault(room.floor, []).append(room)
    counts = services.room_counts([building.id])[building.id]
    return render_template('property/building.html', building=building, units=units, unit=unit, floors=floors,
                           counts=counts)


@bp.route('/property/buildings/<int:building_id>/edit', methods=['GET', 'POST'])
@require_editor
def edit_building(building_id):
    building = get_or_404(Building, building_id)
    form = BuildingForm(obj=building)
    error = None
    if form.validate_on_submit():
        try:
            services.update_building(building, name=form.name.data, has_lift=form.has_lift.data,
                                     note=form.note.data)
        except DomainError as e:
            error = _show_error(form, e)
        else:
            db.session.commit()
            flash(_('已保存 %(name)s', name=building.name))
            return redirect(url_for('property.building', building_id=building.id))
    status = 422 if request.method == 'POST' else 200
    return render_template('property/edit_building.html', building=building, form=form, error=error), status


# --- rooms ---------------------------------------------------------------------------------------------------------

def _room_filter() -> services.RoomFilter:
    settings = services.property_settings(g.tenant)
    q = services.CONTROL_RE.sub('', request.args.get('q') or '').strip()[:80]
    return services.RoomFilter(
        building_id=request.args.get('building', type=int), unit_id=request.args.get('unit', type=int),
        status=_choice(request.args.get('status'), ROOM_STATUSES), type=_choice(request.args.get('type'), ROOM_TYPES),
        tag=_choice(request.args.get('tag'), settings.room_tags), q=q or None,
        include_inactive=request.args.get('inactive') == '1')


@bp.get('/property/rooms')
@require_staff
def rooms():
    f = _room_filter()
    pagination = _paginate(services.rooms_query(f))
    all_buildings = db.session.execute(sa.select(Building.id, Building.name)
                                       .order_by(Building.sort_order, Building.name)).all()
    units = []
    if f.building_id:
        units = db.session.execute(sa.select(Unit.id, Unit.name).where(Unit.building_id == f.building_id)
                                   .order_by(Unit.sort_order, Unit.name)).all()
    args = {key: value for key, value in (('building', f.building_id), ('unit', f.unit_id), ('status', f.status),
                                          ('type', f.type), ('tag', f.tag), ('q', f.q),
                                          ('inactive', '1' if f.include_inactive else None)) if value}
    return render_template('property/rooms.html', pagination=pagination, f=f, buildings=all_buildings, units=units,
                           args=args)


@bp.get('/property/rooms/<int:room_id>')
@require_staff
def room(room_id):
    room = get_or_404(Room, room_id)
    events = _paginate(services.room_events(room))
    user_ids = {e.by_user_id for e in events.items if e.by_user_id}
    names = dict(db.session.execute(sa.select(User.id, User.name).where(User.id.in_(user_ids))).all()) \
        if user_ids else {}
    merged_into = services.find_room(room.merged_into_id) if room.merged_into_id else None
    merged_from = db.session.execute(sa.select(Room).where(Room.merged_into_id == room.id)
                                     .order_by(Room.code)).scalars().all()
    spaces = db.session.execute(sa.select(ParkingSpace).where(ParkingSpace.room_id == room.id)
                                .order_by(ParkingSpace.code)).scalars().all()
    renovation = renovations.open_for_room(room.id)
    return render_template('property/room.html', room=room, events=events, names=names, merged_into=merged_into,
                           merged_from=merged_from, spaces=spaces, occupants=_current_occupants(room),
                           renovation=renovation,
                           renovation_overdue=renovation is not None and renovations.is_overdue(
                               renovation, renovations.tenant_today(g.tenant)))


def _current_occupants(room: Room) -> list:
    """Who lives here now (phones masked: a room page is not where full personal information is shown)."""
    return db.session.execute(
        sa.select(Occupancy).options(selectinload(Occupancy.resident))
        .where(Occupancy.room_id == room.id, Occupancy.moved_out_on.is_(None))
        .order_by(Occupancy.role, Occupancy.moved_in_on)).scalars().all()


def _room_form(room: Room, settings) -> RoomForm:
    form = RoomForm(obj=room if request.method == 'GET' else None)
    types = list(settings.room_types)
    if room.type not in settings.type_codes:
        types.append((room.type, settings.type_name(room.type)))
    form.type.choices = [SelectChoice(code, name) for code, name in types]
    tags = list(dict.fromkeys([*settings.room_tags, *(room.tags or [])]))
    form.tags.choices = [SelectChoice(tag, tag) for tag in tags]
    if request.method == 'GET':
        form.area_m2.data = services.format_area(room.area_m2) or ''
    return form


@bp.route('/property/rooms/<int:room_id>/edit', methods=['GET', 'POST'])
@require_editor
def edit_room(room_id):
    room = get_or_404(Room, room_id)
    settings = services.property_settings(g.tenant)
    form = _room_form(room, settings)
    error = None
    if form.validate_on_submit():
        try:
            services.update_room(room, by_user_id=current_user.id, settings=settings, area_m2=form.area_m2.data,
                                 type=form.type.data, status=form.status.data, tags=form.tags.data,
                                 billing_starts_on=form.billing_starts_on.data)
        except DomainError as e:
            error = _show_error(form, e)
        else:
            db.session.commit()
            flash(_('已保存 %(code)s', code=room.code))
            return redirect(url_for('property.room', room_id=room.id))
    status = 422 if request.method == 'POST' else 200
    return render_template('property/edit_room.html', room=room, form=form, error=error), status


@bp.route('/property/rooms/<int:room_id>/rename', methods=['GET', 'POST'])
@require_editor
def rename_room(room_id):
    room = get_or_404(Room, room_id)
    form = RenameForm()
    error = None
    if form.validate_on_submit():
        old = room.code
        try:
            services.rename_room(room, form.number.data, by_user_id=current_user.id)
        except DomainError as e:
            error = _show_error(form, e)
        else:
            db.session.commit()
            flash(_('房号已由 %(old)s 改为 %(new)s', old=old, new=room.code))
            return redirect(url_for('property.room', room_id=room.id))
    status = 422 if request.method == 'POST' else 200
    return render_template('property/rename_room.html', room=room, form=form, error=error), status


@bp.route('/property/rooms/<int:room_id>/merge', methods=['GET', 'POST'])
@require_editor
def merge_room(room_id):
    room = get_or_404(Room, room_id)
    form = MergeForm()
    error = None
    if form.validate_on_submit():
        try:
            others = services.rooms_in_unit_by_text(room, form.rooms.data)
            services.merge_rooms(room, others, by_user_id=current_user.id)
        except DomainError as e:
            error = _show_error(form, e)
        else:
            db.session.commit()
            flash(_('已把 %(codes)s 并入 %(code)s', codes='、'.join(o.code for o in others), code=room.code))
            return redirect(url_for('property.room', room_id=room.id))
    status = 422 if request.method == 'POST' else 200
    return render_template('property/merge_room.html', room=room, form=form, error=error), status


# --- parking spaces --------------------------------------------------------------------------------------------------

@bp.get('/property/spaces')
@require_staff
def spaces():
    q = services.CONTROL_RE.sub('', request.args.get('q') or '').strip()[:40] or None
    kind = _choice(request.args.get('kind'), SPACE_KINDS)
    inactive = request.args.get('inactive') == '1'
    pagination = _paginate(services.spaces_query(q, kind, inactive))
    args = {key: value for key, value in (('q', q), ('kind', kind), ('inactive', '1' if inactive else None))
            if value}
    return render_template('property/spaces.html', pagination=pagination, q=q, kind=kind, inactive=inactive,
                           args=args)


def _save_space(space: ParkingSpace | None, form: SpaceForm) -> ParkingSpace:
    room = services.room_by_address(form.room.data)
    return services.save_space(space, code=form.code.data, location=form.location.data, kind=form.kind.data,
                               room=room, plates=form.plates.data or '', active=form.active.data)


@bp.route('/property/spaces/new', methods=['GET', 'POST'])
@require_editor
def new_space():
    form = SpaceForm()
    error = None
    if form.validate_on_submit():
        try:
            space = _save_space(None, form)
        except DomainError as e:
            error = _show_error(form, e)
        else:
            db.session.commit()
            flash(_('已添加车位 %(code)s', code=space.code))
            return redirect(url_for('property.space', space_id=space.id))
    status = 422 if request.method == 'POST' else 200
    return render_template('property/space_form.html', space=None, form=form, error=error), status


@bp.route('/property/spaces/<int:space_id>', methods=['GET', 'POST'])
@require_staff
def space(space_id):
    """A parking space; the service desk edits it on the same page."""
    space = get_or_404(ParkingSpace, space_id)
    if request.method == 'POST' and not can_edit():
        abort(403)
    form = SpaceForm(obj=space if request.method == 'GET' else None)
    if request.method == 'GET':
        form.room.data = space.room.code if space.room else ''
        form.plates.data = '\n'.join(space.plates or [])
    error = None
    if request.method == 'POST' and form.validate_on_submit():
        try:
            _save_space(space, form)
        except DomainError as e:
            error = _show_error(form, e)
        else:
            db.session.commit()
            flash(_('已保存车位 %(code)s', code=space.code))
            return redirect(url_for('property.space', space_id=space.id))
    status = 422 if request.method == 'POST' else 200
    return render_template('property/space_form.html', space=space, form=form, error=error), status
