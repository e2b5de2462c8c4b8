"""Maintenance records and the spare-parts stock: a record takes its stock parts out (more than in stock refused,
nothing saved), parts received, counted and their history; a work order's parts named like stock parts taken out,
only the difference on a re-completion; the low-stock reminder once and again after a restock; roles and another
project's part (404)."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from propsaas.auth.models import User
from propsaas.inspections import maintenance
from propsaas.inspections.models import Device, MaintenanceRecord, SparePart, SparePartMovement
from propsaas.notices.models import Message
from propsaas.repairs import orders
from propsaas.repairs.models import RepairCategory
from propsaas.tenancy import clock

NOW = datetime(2026, 12, 1, 2, tzinfo=UTC)


@pytest.fixture
def site(make_tenant, make_user, in_tenant, monkeypatch):
    monkeypatch.setattr(clock, 'now_utc', lambda: NOW)

    def build(name='维保小区'):
        tenant = make_tenant(name=name)
        tech = make_user(tenant, 'staff', duties=['technician'], name='李师傅')
        lift_safety = make_user(tenant, 'staff', duties=['lift_safety'])
        admin = make_user(tenant, 'admin')
        with in_tenant(tenant) as session:
            device = Device(code='DT-01', name='1号客梯', category='lift', contractor='某某电梯公司')
            rope = SparePart(name='钢丝绳', unit='米', stock=0, min_stock=10)
            session.add_all([device, rope])
            session.flush()
            maintenance.receive(rope, 30, by_user=session.get(User, admin))
            session.commit()
            return tenant, tech, lift_safety, admin, device.id, rope.id

    return build


def stock(in_tenant, tenant, part_id):
    with in_tenant(tenant) as session:
        return session.get(SparePart, part_id).stock


def record_form(**extra):
    data = {'done_on': '2026-11-30', 'contractor': '', 'work_done': '半月维保：清洁、润滑、调整',
            'next_due_on': '2026-12-15', 'part_stock_id': [''] * 2, 'part_name': [''] * 2,
            'part_quantity': [''] * 2, 'part_cost': [''] * 2}
    data.update(extra)
    return data


def test_a_record_takes_its_stock_parts_out(site, in_tenant, client_for):
    tenant, tech, _ls, _admin, device, rope = site()
    client = client_for(tenant, tech)
    done = client.post(f'/equipment/{device}/maintenance', data=record_form(
        part_stock_id=[str(rope), ''], part_name=['', '润滑油'], part_quantity=['12', '1'], part_cost=['360', '45.5']))
    assert done.status_code == 303
    assert stock(in_tenant, tenant, rope) == 18
    with in_tenant(tenant) as session:
        record = session.execute(sa.select(MaintenanceRecord)).scalar_one()
        assert (record.contractor, record.next_due_on, record.parts_cost_fen) == (
            '某某电梯公司', date(2026, 12, 15), 40550)
        assert record.parts == [{'name': '钢丝绳', 'quantity': 12, 'cost_fen': 36000, 'spare_part_id': rope},
                                {'name': '润滑油', 'quantity': 1, 'cost_fen': 4550, 'spare_part_id': None}]
        movement = session.execute(sa.select(SparePartMovement).where(SparePartMovement.reason == 'maintenance')
                                   ).scalar_one()
        assert (movement.change, movement.maintenance_record_id, movement.by_user_id) == (-12, record.id, tech)
    page = client.get(f'/equipment/{device}').text
    assert '半月维保：清洁、润滑、调整' in page and '钢丝绳 × 12' in page and '2026-12-15' in page


@pytest.mark.parametrize('extra, message', [
    ({'part_quantity': ['40', ''], 'part_stock_id': ['STOCK', '']}, '库存不足：现有 30米'),
    ({'done_on': '2026-12-02'}, '不能晚于今天'),
    ({'next_due_on': '2026-11-30'}, '应晚于本次维保日期'),
    ({'work_done': ' '}, '请填写维保内容'),
    ({'done_on': '30/11/2026'}, '日期格式应为'),
    ({'part_quantity': ['x', ''], 'part_name': ['螺丝', '']}, '数量请填写整数'),
    ({'part_cost': ['1.234', ''], 'part_name': ['螺丝', '']}, '请填写金额'),
    ({'part_stock_id': ['999999', ''], 'part_quantity': ['1', '']}, '没有这个库存配件'),
])
def test_refused_records_save_nothing(site, in_tenant, client_for, extra, message):
    tenant, tech, _ls, _admin, device, rope = site()
    if extra.get('part_stock_id', [''])[0] == 'STOCK':
        extra = {**extra, 'part_stock_id': [str(rope), '']}
    response = client_for(tenant, tech).post(f'/equipment/{device}/maintenance', data=record_form(**extra))
    assert response.status_code == 422 and message in response.text
    assert stock(in_tenant, tenant, rope) == 30
    with in_tenant(tenant) as session:
        assert session.execute(sa.select(sa.func.count()).select_from(MaintenanceRecord)).scalar_one() == 0


def test_parts_received_counted_and_their_history(site, in_tenant, client_for):
    tenant, tech, _ls, _admin, _device, rope = site()
    client = client_for(tenant, tech)
    added = client.post('/equipment/parts', data={'name': '门机皮带', 'unit': '条', 'stock': '4', 'min_stock': '2'})
    assert added.status_code == 303
    assert client.post('/equipment/parts', data={'name': '门机皮带', 'min_stock': '1'}).status_code == 422
    with in_tenant(tenant) as session:
        belt = session.execute(sa.select(SparePart).where(SparePart.name == '门机皮带')).scalar_one()
        assert (belt.stock, belt.unit) == (4, '条')
        belt_id = belt.id
    assert client.post(f'/equipment/parts/{rope}/receive', data={'quantity': '5', 'note': '采购'}).status_code == 303
    assert client.post(f'/equipment/parts/{rope}/count', data={'actual': '33'}).status_code == 303
    assert client.post(f'/equipment/parts/{rope}/receive', data={'quantity': '0'}).status_code == 422
    assert client.post(f'/equipment/parts/{rope}/count', data={'actual': '-1'}).status_code == 422
    assert stock(in_tenant, tenant, rope) == 33
    page = client.get(f'/equipment/parts/{rope}').text
    assert '+5' in page and '-2' in page and '盘点' in page and '入库' in page
    listing = client.get('/equipment/parts').text
    assert '钢丝绳' in listing and '门机皮带' in listing and '库存不足' not in listing
    assert client.post(f'/equipment/parts/{belt_id}/edit', data={'name': '钢丝绳', 'min_stock': '1'}).status_code == 422


def test_a_work_order_takes_its_parts_and_only_the_difference_when_completed_again(site, in_tenant, make_user):
    tenant, tech, _ls, admin, _device, rope = site()
    with in_tenant(tenant) as session:
        category = session.execute(sa.select(RepairCategory.id).where(RepairCategory.code == 'lift')).scalar()
        user = session.get(User, admin)
        order = orders.submit(category_id=category, description='钢丝绳磨损', by_user=user, public_area='1号客梯',
                              channel='staff', now=NOW)
        orders.assign(order, tech, by_user=user, now=NOW)
        technician = session.get(User, tech)
        orders.start(order, by_user=technician, now=NOW)
        orders.complete(order, by_user=technician, note='更换钢丝绳', now=NOW,
                        parts=[{'name': '钢丝绳', 'quantity': 25, 'cost_fen': 0},
                               {'name': '不在库存的', 'quantity': 1}])
        session.commit()
        assert session.get(SparePart, rope).stock == 5  # 30 - 25: at or below the minimum of 10 now
        orders.reopen(order, by_user=user, reason='还有异响', now=NOW + timedelta(hours=1))
        orders.start(order, by_user=technician, now=NOW + timedelta(hours=2))
        orders.complete(order, by_user=technician, note='重新调整', now=NOW + timedelta(hours=3),
                        parts=[{'name': '钢丝绳', 'quantity': 20, 'cost_fen': 0}])
        session.commit()
        assert session.get(SparePart, rope).stock == 10  # 5 given back
        changes = session.execute(sa.select(SparePartMovement.change).where(
            SparePartMovement.reason == 'work_order').order_by(SparePartMovement.id)).scalars().all()
        assert changes == [-25, 5]


def test_the_low_stock_reminder_once_and_again_after_a_restock(site, in_tenant):
    tenant, _tech, _ls, admin, _device, rope = site()
    with in_tenant(tenant) as session:
        assert maintenance.remind_low_stock() == 0
        part = session.get(SparePart, rope)
        maintenance.count(part, 8, by_user=session.get(User, admin))
        session.commit()
        assert maintenance.remind_low_stock() == 1
        assert maintenance.remind_low_stock() == 0
        [body] = session.execute(sa.select(Message.body).where(Message.user_id == admin)).scalars().all()
        assert '钢丝绳（现有 8米，最低 10米）' in body
        maintenance.receive(session.get(SparePart, rope), 10, by_user=session.get(User, admin))
        maintenance.count(session.get(SparePart, rope), 3, by_user=session.get(User, admin))
        session.commit()
        assert maintenance.remind_low_stock() == 1  # restocked above the minimum, then low again


def test_roles_and_another_projects_part(site, in_tenant, client_for, make_user):
    tenant, _tech, lift_safety, _admin, device, rope = site()
    watcher = client_for(tenant, lift_safety)
    assert watcher.get('/equipment/parts').status_code == 200
    assert watcher.get(f'/equipment/parts/{rope}').status_code == 200
    assert '入库' not in watcher.get(f'/equipment/parts/{rope}').text.split('库存变动')[0]
    for path, data in ((f'/equipment/parts/{rope}/receive', {'quantity': '1'}), ('/equipment/parts', {'name': 'x'}),
                       (f'/equipment/{device}/maintenance', record_form())):
        assert watcher.post(path, data=data).status_code == 403
    resident = make_user(tenant, 'resident')
    assert client_for(tenant, resident).get('/equipment/parts').status_code == 403
    other, other_tech, *_rest = site('别的维保小区')
    stranger = client_for(other, other_tech)
    assert stranger.get(f'/equipment/parts/{rope}').status_code == 404
    assert stranger.post(f'/equipment/parts/{rope}/count', data={'actual': '0'}).status_code == 404
    assert stock(in_tenant, tenant, rope) == 30
