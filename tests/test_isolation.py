"""The isolation walk: every URL rule and every API operation, as tenant B's admin, staff and resident, with
tenant A's object ids. Nothing of A may show, nothing of A may change; A's objects are 404.

The rules come from the URL map and the operations from the OpenAPI document, so a route added tomorrow is
walked tomorrow. A new URL parameter must be given one of A's values in ``a_values`` below, or the walk fails.
"""
from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from propsaas.auth import services as auth_services
from propsaas.auth.jobs import export_users
from propsaas.auth.models import User
from propsaas.jobs.models import JobRecord
from propsaas.jobs.queue import enqueue
from tests.conftest import PASSWORD

MARK = 'ALPHA' + uuid.uuid4().hex[:6]


@pytest.fixture(scope='module')
def world(app, tmp_path_factory):
    """Tenant A full of marked data, tenant B with one user of each role. Built once for the module."""
    from propsaas.extensions import db
    from propsaas.tenancy import provisioning
    from propsaas.tenancy.context import tenant_scope
    from tests.conftest import CsrfClient, _counter  # noqa: F401  (same factories, module scope)

    def tenant(name):
        slug = f'iso{next(_counter)}-{uuid.uuid4().hex[:6]}'
        with app.app_context():
            done = provisioning.create_tenant(slug, name=name, template='standard-residential',
                                              admin_email=f'admin@{slug}.cn', admin_password=PASSWORD)
            db.session.commit()
            return done.tenant.id, slug

    a_id, a_slug = tenant(f'{MARK}花园')
    b_id, b_slug = tenant('B花园')
    world = {'a_slug': a_slug, 'b_slug': b_slug, 'a_id': a_id, 'b_id': b_id}
    with app.app_context(), tenant_scope(a_id):
        resident = User(name=f'{MARK}住户', mobile='13811110000', role='resident', email=f'{MARK.lower()}@a.cn',
                        password_hash=auth_services.hash_password(PASSWORD))
        staff = User(name=f'{MARK}员工', email=f'staff-{MARK.lower()}@a.cn', role='staff', duties=['technician'])
        db.session.add_all([resident, staff])
        _invited, invite_token = auth_services.invite_user(name=f'{MARK}受邀', mobile='13811110001', role='resident',
                                                           allowed_duties=set())
        db.session.commit()
        record = enqueue(export_users)  # inline: a finished job with a file
        assert record.status == JobRecord.DONE
        world.update(user_id=resident.id, staff_id=staff.id, job_id=record.id, invite_token=invite_token)
        world.update(_property_and_residents_of_a())
        world.update(_notices_of_a(world['resident_id']))
        world.update(_billing_of_a(world))
        world.update(_repairs_of_a(world))
        world.update(_inspections_of_a(world))
    with app.app_context(), tenant_scope(b_id):
        for role in ('admin', 'staff', 'resident'):
            user = User(name=f'B{role}', email=f'{role}@b-{b_slug}.cn', role=role,
                        password_hash=auth_services.hash_password(PASSWORD))
            db.session.add(user)
            db.session.flush()
            world[f'b_{role}'] = user.id
            world[f'b_{role}_api'], _ = auth_services.issue_api_token(user)
        db.session.commit()
    return world


def _property_and_residents_of_a() -> dict:
    """One of each of A's property and resident objects, every text field marked. Runs in A's scope."""
    from datetime import date
    from decimal import Decimal

    from propsaas.extensions import db
    from propsaas.property.models import Building, ParkingSpace, Room, Unit
    from propsaas.residents.models import AccessGrant, Gate, ImportBatch, Occupancy, Renovation, Resident, Vehicle

    building = Building(name=f'{MARK}栋')
    unit = Unit(building=building, name=f'{MARK}单元')
    room = Room(building=building, unit=unit, number='1201', code=f'{MARK}-1-1201', floor=12,
                area_m2=Decimal('89.50'), status='occupied', tags=[MARK])
    space = ParkingSpace(code=f'{MARK}-B1', location=MARK, room=room, plates=['浙A' + MARK[-5:].upper()])
    resident = Resident(name=f'{MARK}业主', mobile='13811112222', id_number='110101199003074477',
                        emergency_contact=MARK, note=MARK)
    occupancy = Occupancy(room=room, resident=resident, role='owner', moved_in_on=date(2020, 1, 1))
    vehicle = Vehicle(resident=resident, plate='浙B' + MARK[-5:].upper(), note=MARK)
    renovation = Renovation(room=room, contractor=f'{MARK}装饰', manager_name=MARK, manager_phone='13811113333',
                            planned_start=date(2026, 1, 1), planned_end=date(2026, 3, 1), scope=MARK,
                            deposit_fen=200000)
    gate = Gate(code=f'{MARK.lower()}-gate', name=f'{MARK}北门')
    grant = AccessGrant(resident=resident, gate=gate, credential_kind='card', credential_ref=f'{MARK}-card')
    batch = ImportBatch(filename=f'{MARK}.xlsx', status='previewed')
    db.session.add_all([building, unit, room, space, resident, occupancy, vehicle, renovation, gate, grant, batch])
    db.session.commit()
    return {'building_id': building.id, 'unit_id': unit.id, 'room_id': room.id, 'space_id': space.id,
            'resident_id': resident.id, 'occupancy_id': occupancy.id, 'vehicle_id': vehicle.id,
            'renovation_id': renovation.id, 'gate_id': gate.id, 'grant_id': grant.id, 'batch_id': batch.id}


def _notices_of_a(resident_id: int) -> dict:
    """One of each of A's notification-center objects, marked. Runs in A's scope."""
    from propsaas.extensions import db
    from propsaas.models_base import utcnow
    from propsaas.notices import models as n

    announcement = n.Announcement(title=f'{MARK}停水', body_html=f'<p>{MARK}</p>', category='停水', status='published',
                                  audience={'scope': 'all'}, for_everyone=True, published_at=utcnow())
    attachment = n.AnnouncementAttachment(announcement=announcement, kind='pdf', filename=f'{MARK}.pdf',
                                          stored_name=f'{MARK.lower()}.pdf', content_type='application/pdf',
                                          size_bytes=10)
    message = n.Message(resident_id=resident_id, source_key=f'announcement:{MARK}', title=MARK, body=MARK,
                        short_text=MARK)
    delivery = n.Delivery(message=message, channel='sms', address='13811112222', status='failed', last_error=MARK)
    template = n.MessageTemplate(code='alpha_mark', name=MARK, title=MARK, body=MARK, sms_text=MARK, variables=[])
    survey = n.Survey(title=f'{MARK}问卷', description=MARK, status='open', audience={'scope': 'all'})
    question = n.SurveyQuestion(survey=survey, kind='text', text=MARK, position=1)
    answer = n.SurveyAnswer(text=MARK)
    preference = n.ChannelPreference(resident_id=resident_id, email=f'{MARK.lower()}@a.cn', wechat_openid=MARK)
    logged = n.LoggedMessage(channel='sms', address='13811112222', subject=MARK, text=MARK)
    db.session.add_all([announcement, attachment, message, delivery, template, survey, question, preference, logged])
    db.session.flush()
    response = n.SurveyResponse(survey_id=survey.id, resident_id=resident_id, answers=[answer])
    answer.question_id = question.id
    db.session.add(response)
    db.session.execute(sa.update(n.ChannelSetting).values(enabled=True, config={'sign_name': MARK}))
    db.session.commit()
    return {'announcement_id': announcement.id, 'attachment_id': attachment.id, 'message_id': message.id,
            'template_id': template.id, 'survey_id': survey.id, 'question_id': question.id}


def _billing_of_a(world: dict) -> dict:
    """One of each of A's billing objects, marked. Runs in A's scope."""
    from datetime import date

    from propsaas.billing import models as b
    from propsaas.extensions import db

    item = b.FeeItem(code='alpha_fee', name=f'{MARK}物业费', charging='area', rate='2.35')
    rule = b.BillingRule(fee_item=item, scope='room', room_id=world['room_id'], rate='9.99', note=MARK,
                         effective_from=date(2026, 1, 1))
    reading = b.MeterReading(meter='water', room_id=world['room_id'], period='2026-11', reading='123.4', note=MARK)
    run = b.BillRun(period='2026-11', due_on=date(2026, 11, 30), status='done', summary={'note': MARK})
    bill = b.Bill(number=f'{MARK}-1', room_id=world['room_id'], payer_resident_id=world['resident_id'],
                  period='2026-11', issued_on=date(2026, 11, 1), due_on=date(2026, 11, 30), total_fen=21033)
    db.session.add_all([item, rule, reading, run, bill])
    db.session.flush()
    bill.run_id = run.id
    line = b.BillLine(bill_id=bill.id, fee_item_id=item.id, subject=f'room:{world["room_id"]}',
                      period='2026-11', description=f'{MARK}物业费', amount_fen=21033,
                      basis={'rule_id': rule.id, 'formula': MARK})
    db.session.add(line)
    payment = b.Payment(number=f'{MARK}-SJ', method='cash', amount_fen=10000, room_id=world['room_id'],
                        payer_resident_id=world['resident_id'], payer_name=MARK, reference=MARK)
    hold = b.ReminderHold(room_id=world['room_id'], reason=MARK)
    db.session.add_all([payment, hold, b.ProjectDay(day=date(2026, 12, 24), name=MARK),
                        b.Reminder(bill_id=bill.id, step=0, due_on=date(2026, 11, 30), status='skipped', note=MARK)])
    db.session.flush()
    db.session.add(b.PaymentAllocation(payment_id=payment.id, bill_id=bill.id, amount_fen=10000))
    mandate = b.AutopayMandate(number=f'{MARK}-DK', provider='sandbox', room_id=world['room_id'], status='active',
                               agreement_no=MARK)
    db.session.add_all([mandate, b.PaymentProviderSetting(provider='sandbox', enabled=True,
                                                          config={'decline_charges': MARK})])
    db.session.flush()
    order = b.PaymentOrder(number=f'{MARK}-PO', provider='sandbox', room_id=world['room_id'], bill_ids=[bill.id],
                           amount_fen=11033, mandate_id=mandate.id, failure_reason=MARK)
    db.session.add(order)
    db.session.commit()
    return {'fee_item_id': item.id, 'rule_id': rule.id, 'reading_id': reading.id, 'run_id': run.id, 'bill_id': bill.id,
            'payment_id': payment.id, 'hold_id': hold.id, 'order_id': order.id, 'mandate_id': mandate.id,
            'line_id': line.id}


#: URL parameters that name one of A's objects: B must get 404 (or 403 for a role that may not ask at all).
OBJECT_PARAMS = {'user_id', 'job_id', 'token', 'building_id', 'unit_id', 'room_id', 'space_id', 'resident_id',
                 'occupancy_id', 'vehicle_id', 'renovation_id', 'gate_id', 'grant_id', 'batch_id',
                 'announcement_id', 'attachment_id', 'message_id', 'template_id', 'survey_id', 'question_id',
                 'fee_item_id', 'rule_id', 'reading_id', 'run_id', 'bill_id', 'payment_id', 'hold_id',
                 'order_id', 'mandate_id', 'line_id', 'photo_id', 'group_id', 'visit_id', 'category_id',
                 'device_id', 'certificate_id', 'plan_id', 'task_id', 'part_id', 'inspection_photo_id',
                 'feedback_id'}


def a_values(world) -> dict:
    """One of tenant A's values for every URL parameter name in the app."""
    return {
        **{name: world[name] for name in OBJECT_PARAMS - {'token'}},
        'token': world['invite_token'],
        'slug': world['a_slug'],
        'action': 'suspend',
        'channel': 'sms',
        'provider': 'sandbox',
        'filename': 'css/app.css',
        'signup_id': 1,  # a company sign-up (a platform row; its pages are on the platform host only)
    }


def _repairs_of_a(world: dict) -> dict:
    """A's work order (its 'order_id' is the repair pages' and API's; the billing pages keep the payment order's)
    with a report photo and its files, marked. Runs in A's scope."""
    from propsaas import storage
    from propsaas.extensions import db
    from propsaas.repairs import models as w

    category = db.session.execute(sa.select(w.RepairCategory).order_by(w.RepairCategory.id)).scalars().first()
    order = w.WorkOrder(number=f'{MARK}-BX', category_id=category.id, room_id=world['room_id'], description=MARK,
                        preferred_time=MARK, channel='portal', status='completed', urgency='normal',
                        reporter_resident_id=world['resident_id'], contact_name=MARK, contact_phone='13811112222',
                        completion_note=MARK, parts=[{'name': MARK, 'quantity': 1, 'cost_fen': 100}])
    db.session.add(order)
    db.session.flush()
    db.session.add(w.WorkOrderEvent(order_id=order.id, action='submitted', to_status='submitted', note=MARK))
    key = f'repairs/{order.id}/{MARK.lower()}.jpg'
    storage.write_atomically(key, MARK.encode())
    photo = w.WorkOrderPhoto(order_id=order.id, kind='report', key=key, thumb_key=key, content_type='image/jpeg',
                             width=1, height=1, size=len(MARK))
    db.session.add(photo)
    group = w.DispatchGroup(name=f'{MARK}-组', member_ids=[])
    db.session.add(group)
    db.session.flush()
    dispatch_rule = w.DispatchRule(category_id=category.id, group_id=group.id)
    visit = w.ReturnVisit(order_id=order.id, reason=MARK)
    db.session.add_all([dispatch_rule, visit])
    db.session.commit()
    return {'work_order_id': order.id, 'photo_id': photo.id, 'group_id': group.id, 'visit_id': visit.id,
            'category_id': category.id, 'dispatch_rule_id': dispatch_rule.id}


def _inspections_of_a(world: dict) -> dict:
    """A's device with a certificate, an inspection plan covering it and a done task with its work order, marked.
    Runs in A's scope."""
    from datetime import UTC, date, datetime

    from propsaas.extensions import db
    from propsaas.inspections import models as i

    device = i.Device(code=f'{MARK}-DT', name=MARK, category='lift', location=MARK, vendor=MARK, note=MARK)
    db.session.add(device)
    db.session.flush()
    certificate = i.DeviceCertificate(device_id=device.id, name=MARK, number=MARK, expires_on=date(2026, 12, 31))
    plan = i.InspectionPlan(code='mark_plan', name=MARK, target='lift', starts_on=date(2026, 11, 1),
                            frequency={'kind': 'daily', 'times': 1}, checklist=[{'label': MARK, 'kind': 'check'}],
                            points=[MARK], duty='technician', note=MARK)
    db.session.add_all([certificate, plan])
    db.session.flush()
    db.session.add(i.InspectionPlanDevice(plan_id=plan.id, device_id=device.id))
    start = datetime(2026, 11, 30, 16, tzinfo=UTC)
    task = i.InspectionTask(plan_id=plan.id, device_id=device.id, target_key=device.id, period_start=start,
                            due_at=datetime(2026, 12, 1, 16, tzinfo=UTC),
                            status='done', results=[{'ok': False, 'value': None, 'note': MARK}])
    from propsaas import storage
    from propsaas.feedback.models import Feedback

    key = f'inspections/{MARK.lower()}.jpg'
    storage.write_atomically(key, MARK.encode())
    photo = i.InspectionPhoto(task=task, key=key, thumb_key=key, width=1, height=1, size=len(MARK))
    feedback = Feedback(user_id=world['staff_id'], kind='problem', text=MARK, page=f'/{MARK}', status='open')
    db.session.add_all([photo, feedback])
    part = i.SparePart(name=MARK, unit='个', stock=3, min_stock=1, note=MARK)
    db.session.add_all([task, part, i.MaintenanceRecord(device_id=device.id, done_on=date(2026, 11, 30),
                                                        contractor=MARK, work_done=MARK)])
    db.session.flush()
    db.session.add(i.SparePartMovement(part_id=part.id, change=3, reason='received', note=MARK))
    db.session.commit()
    return {'device_id': device.id, 'certificate_id': certificate.id, 'plan_id': plan.id, 'task_id': task.id,
            'part_id': part.id, 'inspection_photo_id': photo.id, 'feedback_id': feedback.id}


#: a URL parameter name two features share: A's value for it under these path prefixes is world[key]
SHARED_NAMES = [(('/repairs/', '/my/repairs/', '/api/v1/repairs/', '/api/v1/me/repairs/'), 'order_id',
                 'work_order_id'),
                (('/repairs/rules/',), 'rule_id', 'dispatch_rule_id')]


def values_for(values: dict, world: dict, path: str) -> dict:
    for prefixes, name, key in SHARED_NAMES:
        if path.startswith(prefixes) and key in world:
            values = {**values, name: world[key]}
    return values


def b_client(app, world, role):
    """A client logged in as B's user of ``role``, with a session of its own (the walk logs out, too)."""
    from propsaas.extensions import db
    from propsaas.tenancy.context import tenant_scope

    with app.app_context(), tenant_scope(world['b_id']):
        raw = auth_services.start_session(db.session.get(User, world[f'b_{role}']))
        db.session.commit()
    client = app.test_client()
    client.base = f'http://{world["b_slug"]}.localhost'
    with client.session_transaction(base_url=client.base) as s:
        s['_user_id'] = f'u:{raw}'
        s['_host'] = f't{world["b_id"]}'
    return client


def snapshot(app, world):
    from propsaas.extensions import db
    from propsaas.tenancy.context import tenant_scope

    with app.app_context(), tenant_scope(world['a_id']):
        users = db.session.execute(sa.select(User.id, User.name, User.active, User.password_hash, User.locale)
                                   .order_by(User.id)).all()
        jobs = db.session.execute(sa.select(JobRecord.id, JobRecord.status, JobRecord.finished_at)).all()
        others = [db.session.execute(sa.select(*model.__table__.columns).order_by(model.id)).all()
                  for model in _a_models()]
        return users, jobs, others


def _a_models():
    from propsaas.billing import models as b
    from propsaas.notices import models as n
    from propsaas.property.models import Building, ParkingSpace, Room, RoomEvent, Unit
    from propsaas.repairs import models as w
    from propsaas.residents import models as r

    return [Building, Unit, Room, RoomEvent, ParkingSpace, r.Resident, r.Occupancy, r.Vehicle, r.Renovation,
            r.RenovationVisit, r.Gate, r.AccessGrant, r.ImportBatch, n.Announcement, n.AnnouncementAttachment,
            n.Message, n.Delivery, n.MessageTemplate, n.ChannelSetting, n.ChannelPreference, n.LoggedMessage,
            n.Survey, n.SurveyQuestion, n.SurveyResponse, n.SurveyAnswer, b.FeeItem, b.BillingRule, b.MeterReading,
            b.Counter, b.BillRun, b.Bill, b.BillLine, b.Payment, b.PaymentAllocation, b.ReminderHold, b.ProjectDay,
            b.Reminder, b.PaymentOrder, b.AutopayMandate, b.PaymentProviderSetting, w.WorkOrder, w.WorkOrderEvent,
            w.WorkOrderPhoto, w.DispatchGroup, w.DispatchRule, w.ReturnVisit, w.RepairCategory]


def rules(app):
    # Logout last: it ends B's session, which every other request of the walk rides on.
    return sorted((r for r in app.url_map.iter_rules() if r.endpoint != 'static'),
                  key=lambda r: (r.endpoint == 'auth.logout', r.rule))


@pytest.mark.parametrize('role', ['admin', 'staff', 'resident'])
def test_walk_every_url_rule_as_tenant_b(app, world, role):
    values = a_values(world)
    before = snapshot(app, world)
    walked = 0
    for rule in rules(app):
        missing = [arg for arg in rule.arguments if arg not in values]
        assert not missing, f'{rule.rule}: give the isolation walk one of A\'s values for {missing}'
        path = rule.build({arg: values_for(values, world, rule.rule)[arg] for arg in rule.arguments},
                          append_unknown=False)[1]
        for method in sorted(rule.methods - {'HEAD', 'OPTIONS'}):
            client = b_client(app, world, role)
            response = client.open(path, method=method, data={'name': 'x', 'password': 'Hijack-Attempt-9',
                                                              'confirm': 'Hijack-Attempt-9'})
            walked += 1
            # exports are .xlsx (zip): read as text only to look for A's marks, which no byte of it may spell
            body = response.get_data().decode('utf-8', errors='replace')
            assert response.status_code < 500, f'{method} {path}: {response.status_code}'
            assert MARK not in body, f'{method} {path} as B {role} shows tenant A data'
            assert MARK.lower() not in body.lower()
            if path.startswith('/api/') and rule.endpoint != 'api-docs.openapi_json':
                # The API ignores the session cookie (bearer tokens only): walked with tokens below.
                assert response.status_code in (401, 404, 405, 415), f'{method} {path}: {response.status_code}'
            elif rule.arguments & OBJECT_PARAMS:
                assert response.status_code in (403, 404), f'{method} {path} as B {role}: {response.status_code}'
                if role == 'admin' and 'token' not in rule.arguments:
                    assert response.status_code == 404, f'{method} {path}: A\'s object must be 404 for B\'s admin'
    assert walked > 20
    assert snapshot(app, world) == before, 'tenant B changed tenant A data'


def openapi_operations(app):
    spec = app.test_client().get('/api/v1/openapi.json', base_url='http://localhost').json
    for path, item in spec['paths'].items():
        for method in item:
            if method in ('get', 'post', 'put', 'patch', 'delete'):
                yield path, method.upper(), item[method]


@pytest.mark.parametrize('role', ['admin', 'staff', 'resident'])
def test_walk_every_api_operation_as_tenant_b(app, world, role):
    values = a_values(world)
    before = snapshot(app, world)
    client = app.test_client()
    headers = {'Authorization': f'Bearer {world[f"b_{role}_api"]}'}
    # Revoking the token last: every other call rides on it.
    operations = sorted(openapi_operations(app), key=lambda op: (op[0].endswith('/auth/token') and op[1] == 'DELETE',
                                                                 op[0]))
    assert len(operations) >= 6
    for path, method, _op in operations:
        url = path
        for name, value in values_for(values, world, path).items():
            url = url.replace('{' + name + '}', str(value))
        assert '{' not in url, f'{path}: give the isolation walk one of A\'s values for its parameter'
        body = ({'login': f'admin@{world["a_slug"]}.cn', 'password': PASSWORD}
                if method in ('POST', 'PUT', 'PATCH') else None)
        response = client.open(url, method=method, json=body, headers=headers, csrf=False,
                               base_url=f'http://{world["b_slug"]}.localhost')
        text = response.get_data(as_text=True)
        assert response.status_code < 500, f'{method} {url}: {response.status_code}'
        assert MARK not in text and MARK.lower() not in text.lower(), f'{method} {url} shows tenant A data'
        if '{' in path:
            assert response.status_code in (403, 404), f'{method} {url} as B {role}: {response.status_code}'
            if role == 'admin':
                assert response.status_code == 404, f'{method} {url}: A\'s object must be 404 for B\'s admin'
        if path.endswith('/auth/token') and method == 'POST':
            assert response.status_code == 401  # A's admin credentials mean nothing on B's host
    assert snapshot(app, world) == before


def test_token_of_tenant_b_is_401_on_tenant_a(app, world):
    client = app.test_client()
    b_host = f'http://{world["b_slug"]}.localhost'
    issued = client.post('/api/v1/auth/token', json={'login': f'admin@b-{world["b_slug"]}.cn', 'password': PASSWORD},
                         base_url=b_host)
    assert issued.status_code == 201
    bearer = {'Authorization': f'Bearer {issued.json["token"]}'}
    response = client.get('/api/v1/me', headers=bearer, base_url=f'http://{world["a_slug"]}.localhost')
    assert response.status_code == 401
    assert response.json['error']['code'] == 'unauthorized'
    own = client.get('/api/v1/me', headers=bearer, base_url=b_host)
    assert own.status_code == 200 and own.json['name'] == 'Badmin'


def test_a_file_of_tenant_a_is_not_served_to_b(app, world):
    """The export file of A's job exists on disk; B's admin asking for it by A's job id gets 404."""
    client = b_client(app, world, 'admin')
    assert client.get(f'/jobs/{world["job_id"]}/download').status_code == 404
