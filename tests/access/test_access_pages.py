"""Gates and access permissions in the browser: admins manage gates; the service desk and security grant and
revoke; face is never the only way in; the history stays; moving out revokes."""
from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from propsaas.residents import access as services
from propsaas.residents.models import AccessGrant, Gate, Occupancy
from tests.helpers import count_queries
from tests.renovations.estate import add_resident


def add_gates(in_tenant, estate, *codes: str) -> dict[str, int]:
    with in_tenant(estate.tenant) as session:
        gates = [Gate(code=code, name=f'{code}门') for code in codes]
        session.add_all(gates)
        session.flush()
        return {gate.code: gate.id for gate in gates}


def grants_of(in_tenant, estate, resident_id) -> list[dict]:
    with in_tenant(estate.tenant) as session:
        rows = session.execute(sa.select(AccessGrant).where(AccessGrant.resident_id == resident_id)
                               .order_by(AccessGrant.id)).scalars()
        return [{c.name: getattr(g, c.name) for c in AccessGrant.__table__.columns} for g in rows]


def test_admin_manages_gates(estate, client_for, in_tenant):
    e = estate()
    admin = client_for(e.tenant, e.admin)
    assert '北门' in admin.get('/access').text  # the delivery template's gates
    assert admin.post('/access/gates', data={'code': 'East-Gate', 'name': '东门'}).status_code == 302
    taken = admin.post('/access/gates', data={'code': 'east-gate', 'name': '另一个东门'})
    assert taken.status_code == 422 and '已经用过了' in taken.text
    bad = admin.post('/access/gates', data={'code': '北门', 'name': '北门'})
    assert bad.status_code == 422 and '小写字母' in bad.text
    with in_tenant(e.tenant) as session:
        gate = session.execute(sa.select(Gate).where(Gate.code == 'east-gate')).scalar_one()
        assert (gate.code, gate.name, gate.active) == ('east-gate', '东门', True)
        gate_id = gate.id
    assert admin.post(f'/access/gates/{gate_id}/rename', data={'name': '东大门'}).status_code == 302
    assert admin.post(f'/access/gates/{gate_id}/rename', data={'name': ''}).status_code == 422
    assert admin.post(f'/access/gates/{gate_id}/deactivate').status_code == 302
    page = admin.get('/access')
    assert '东大门' in page.text and '已停用' in page.text
    guard = client_for(e.tenant, e.guard)
    assert guard.get('/access').status_code == 200  # staff see the gates
    assert guard.post('/access/gates', data={'code': 'x', 'name': 'x'}).status_code == 403
    assert guard.post(f'/access/gates/{gate_id}/reactivate').status_code == 403
    assert client_for(e.tenant, e.owner_user).get('/access').status_code == 403


def test_grants_with_history(estate, client_for, in_tenant):
    e = estate()
    gates = add_gates(in_tenant, e, 'north', 'south')
    desk = client_for(e.tenant, e.desk)
    granted = desk.post(f'/access/residents/{e.owner}/grants',
                        data={'gates': [gates['north'], gates['south']], 'card_ref': 'C-0001'})
    assert granted.status_code == 302
    rows = grants_of(in_tenant, e, e.owner)
    assert [(r['gate_id'], r['credential_kind'], r['credential_ref']) for r in rows] == [
        (gates['north'], 'card', 'C-0001'), (gates['south'], 'card', 'C-0001')]
    page = desk.get(f'/access/residents/{e.owner}')
    assert 'C-0001' in page.text and '138****1234' in page.text and '13800001234' not in page.text
    guard = client_for(e.tenant, e.guard)  # security revokes too
    no_reason = guard.post(f'/access/grants/{rows[1]["id"]}/revoke', data={'reason': ''})
    assert no_reason.status_code == 422 and '请填写撤销原因' in no_reason.text
    assert guard.post(f'/access/grants/{rows[1]["id"]}/revoke', data={'reason': '卡片遗失'}).status_code == 302
    again = guard.post(f'/access/grants/{rows[1]["id"]}/revoke', data={'reason': '再撤销一次'})
    assert again.status_code == 422 and '已经撤销过了' in again.text
    rows = grants_of(in_tenant, e, e.owner)
    assert len(rows) == 2  # never deleted
    assert rows[0]['revoked_at'] is None
    assert rows[1]['revoked_at'] is not None and rows[1]['revoke_reason'] == '卡片遗失'
    history = desk.get(f'/access/residents/{e.owner}')
    assert '卡片遗失' in history.text and '历史记录' in history.text


def test_face_is_never_the_only_way_in(estate, client_for, in_tenant):
    e = estate()
    gates = add_gates(in_tenant, e, 'north', 'south')
    desk = client_for(e.tenant, e.desk)
    face_only = desk.post(f'/access/residents/{e.owner}/grants', data={'gates': [gates['north']], 'face_ref': 'F-1'})
    assert face_only.status_code == 422 and '人脸识别不能作为唯一的通行方式' in face_only.text
    assert grants_of(in_tenant, e, e.owner) == []
    # face together with a QR code: both are granted
    both = desk.post(f'/access/residents/{e.owner}/grants',
                     data={'gates': [gates['north']], 'face_ref': 'F-1', 'qr_ref': 'Q-1'})
    assert both.status_code == 302
    assert sorted(r['credential_kind'] for r in grants_of(in_tenant, e, e.owner)) == ['face', 'qr']
    # face later at a gate where a card/QR is already active: fine; at another gate: refused
    assert desk.post(f'/access/residents/{e.owner}/grants',
                     data={'gates': [gates['north']], 'face_ref': 'F-2'}).status_code == 302
    refused = desk.post(f'/access/residents/{e.owner}/grants',
                        data={'gates': [gates['north'], gates['south']], 'face_ref': 'F-3'})
    assert refused.status_code == 422 and 'south门' in refused.text
    assert len(grants_of(in_tenant, e, e.owner)) == 3  # nothing of the refused action saved
    # the last QR can't be revoked while face grants there are active
    qr = next(r for r in grants_of(in_tenant, e, e.owner) if r['credential_kind'] == 'qr')
    blocked = desk.post(f'/access/grants/{qr["id"]}/revoke', data={'reason': '换卡'})
    assert blocked.status_code == 422 and '人脸识别将成为唯一的通行方式' in blocked.text
    for row in grants_of(in_tenant, e, e.owner):
        if row['credential_kind'] == 'face':
            assert desk.post(f'/access/grants/{row["id"]}/revoke', data={'reason': '本人不同意人脸识别'}).status_code \
                == 302
    assert desk.post(f'/access/grants/{qr["id"]}/revoke', data={'reason': '换卡'}).status_code == 302


def test_grant_refusals(estate, client_for, in_tenant):
    e = estate()
    gates = add_gates(in_tenant, e, 'north', 'closed')
    desk = client_for(e.tenant, e.desk)
    url = f'/access/residents/{e.owner}/grants'
    assert '请选择至少一个门禁点' in desk.post(url, data={'card_ref': 'C-1'}).text
    assert '请至少填写一种凭证' in desk.post(url, data={'gates': [gates['north']]}).text
    assert desk.post(url, data={'gates': ['abc'], 'card_ref': 'C-1'}).status_code == 422
    desk.post(url, data={'gates': [gates['north']], 'card_ref': 'C-1'})
    twice = desk.post(url, data={'gates': [gates['north']], 'card_ref': 'C-1'})
    assert twice.status_code == 422 and '已经开通了这个凭证' in twice.text
    stolen = desk.post(f'/access/residents/{e.neighbour}/grants', data={'gates': [gates['north']], 'card_ref': 'C-1'})
    assert stolen.status_code == 422 and '已授权给其他住户' in stolen.text
    client_for(e.tenant, e.admin).post(f'/access/gates/{gates["closed"]}/deactivate')
    inactive = desk.post(url, data={'gates': [gates['closed']], 'card_ref': 'C-9'})
    assert inactive.status_code == 422
    gone = add_resident(in_tenant, e, '已搬走', '2-1-201', moved_out_on=date(2025, 1, 1))
    moved = desk.post(f'/access/residents/{gone}/grants', data={'gates': [gates['north']], 'card_ref': 'C-7'})
    assert moved.status_code == 422 and '没有入住任何房屋' in moved.text
    tech = client_for(e.tenant, e.tech)  # the technician may look, not grant
    assert tech.get(f'/access/residents/{e.owner}').status_code == 200
    assert tech.post(url, data={'gates': [gates['north']], 'card_ref': 'C-8'}).status_code == 403
    assert len(grants_of(in_tenant, e, e.owner)) == 1


def test_moving_out_revokes_every_grant(app, estate, client_for, in_tenant):
    e = estate()
    gates = add_gates(in_tenant, e, 'north', 'south')
    desk = client_for(e.tenant, e.desk)
    desk.post(f'/access/residents/{e.owner}/grants',
              data={'gates': [gates['north'], gates['south']], 'card_ref': 'C-1', 'face_ref': 'F-1'})
    desk.post(f'/access/residents/{e.neighbour}/grants', data={'gates': [gates['north']], 'card_ref': 'C-2'})
    before = {r['id']: r['updated_at'] for r in grants_of(in_tenant, e, e.owner)}
    # someone still living elsewhere keeps their grants
    second_home = add_resident(in_tenant, e, '两处房产', '2-1-201')
    with in_tenant(e.tenant):
        assert services.revoke_if_moved_out(second_home) == 0
    # move-out, the way the residents feature does it: end the occupancy, then revoke in the same transaction
    with in_tenant(e.tenant) as session:
        occupancy = session.execute(sa.select(Occupancy).where(Occupancy.resident_id == e.owner)).scalar_one()
        occupancy.moved_out_on = date.today()
        session.flush()
        assert services.revoke_if_moved_out(e.owner) == 4
    rows = grants_of(in_tenant, e, e.owner)
    assert all(r['revoked_at'] is not None and r['revoke_reason'] == '已迁出' for r in rows)
    assert all(r['updated_at'] > before[r['id']] for r in rows)  # the controller export picks them up
    assert all(r['revoked_at'] is None for r in grants_of(in_tenant, e, e.neighbour))
    page = desk.get(f'/access/residents/{e.owner}')
    assert '已迁出' in page.text and '当前未入住' in page.text


def test_finding_residents(estate, client_for, in_tenant):
    e = estate()
    guard = client_for(e.tenant, e.guard)
    assert '王业主' in guard.get('/access/residents?q=王').text
    by_room = guard.get('/access/residents?q=1栋1单元102')
    assert '李邻居' in by_room.text and '王业主' not in by_room.text
    by_mobile = guard.get('/access/residents?q=138 0000 1234')
    assert '王业主' in by_mobile.text and '138****1234' in by_mobile.text and '13800001234' not in by_mobile.text
    assert '没有找到' in guard.get('/access/residents?q=不存在的人').text
    assert guard.get('/access/residents?q=%25').status_code == 200


def test_download_the_full_export(estate, client_for, in_tenant):
    e = estate()
    gates = add_gates(in_tenant, e, 'north')
    evil = add_resident(in_tenant, e, '=HYPERLINK("http://x")', '2-1-201')
    desk = client_for(e.tenant, e.desk)
    desk.post(f'/access/residents/{evil}/grants', data={'gates': [gates['north']], 'card_ref': '+123'})
    response = desk.get('/access/export.csv')
    assert response.status_code == 200 and response.mimetype == 'text/csv'
    text = response.data.decode('utf-8-sig')
    assert text.splitlines()[0].startswith('grant_id,resident_id,resident_name,gate_code')
    assert '"\'=HYPERLINK(""http://x"")"' in text and ",'+123," in text
    assert client_for(e.tenant, e.tech).get('/access/export.csv').status_code == 403
    assert '下载全部授权' in desk.get('/access').text


def test_list_pages_queries_do_not_grow_with_rows(app, estate, client_for, in_tenant):
    """The resident's grants (active and history), the resident search and the gates list: 2 rows vs 25."""
    counts = {}
    for n in (2, 25):
        e = estate()
        with in_tenant(e.tenant) as session:
            gates = [Gate(code=f'g{i}', name=f'门{i}') for i in range(n)]
            session.add_all(gates)
            session.flush()
            session.add_all([AccessGrant(resident_id=e.owner, gate_id=g.id, credential_kind='card',
                                         credential_ref='C') for g in gates])
            session.add_all([AccessGrant(resident_id=e.owner, gate_id=g.id, credential_kind='qr', credential_ref='Q',
                                         revoked_at=sa.func.now(), revoke_reason='旧码') for g in gates])
        for i in range(n):
            add_resident(in_tenant, e, f'住户{i}', '2-1-201')
        desk = client_for(e.tenant, e.desk)
        desk.get('/access')  # warm up
        with count_queries(app) as grants_page:
            assert desk.get(f'/access/residents/{e.owner}').text.count('旧码') == min(n, 20)
        with count_queries(app) as search:
            assert '住户1' in desk.get('/access/residents?q=住户').text
        with count_queries(app) as gate_list:
            assert '门1' in desk.get('/access').text
        counts[n] = (len(grants_page), len(search), len(gate_list))
    assert counts[2] == counts[25], counts


def test_another_projects_residents_and_gates_are_not_found(estate, client_for, in_tenant):
    a, b = estate('门禁甲苑'), estate('门禁乙苑')
    a_gates = add_gates(in_tenant, a, 'north')
    client_for(a.tenant, a.desk).post(f'/access/residents/{a.owner}/grants',
                                      data={'gates': [a_gates['north']], 'card_ref': 'A-CARD'})
    grant_id = grants_of(in_tenant, a, a.owner)[0]['id']
    b_admin = client_for(b.tenant, b.admin)
    assert b_admin.get(f'/access/residents/{a.owner}').status_code == 404
    assert b_admin.post(f'/access/residents/{a.owner}/grants',
                        data={'gates': [a_gates['north']], 'card_ref': 'B'}).status_code == 404
    assert b_admin.post(f'/access/grants/{grant_id}/revoke', data={'reason': 'x'}).status_code == 404
    assert b_admin.post(f'/access/gates/{a_gates["north"]}/deactivate').status_code == 404
    # B's own resident can't be given A's gate
    b_gates = add_gates(in_tenant, b, 'south')
    response = b_admin.post(f'/access/residents/{b.owner}/grants', data={'gates': [a_gates['north']], 'card_ref': 'B'})
    assert response.status_code == 422 and grants_of(in_tenant, b, b.owner) == []
    assert 'A-CARD' not in b_admin.get('/access/export.csv').data.decode('utf-8-sig')
    assert b_gates and grants_of(in_tenant, a, a.owner)[0]['revoked_at'] is None


def test_odd_input_is_never_a_server_error(estate, client_for):
    e = estate()
    desk = client_for(e.tenant, e.desk)
    for path in ('/access/residents?q=%00', '/access?page=abc', f'/access/residents/{e.owner}?page=-1',
                 '/renovations?room=%00&building=99999999999999999999'):
        assert desk.get(path).status_code == 200, path
    nul = desk.post(f'/access/residents/{e.owner}/grants', data={'gates': ['1'], 'card_ref': 'C\x00'})
    assert nul.status_code == 422
