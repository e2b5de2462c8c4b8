"""/api/v1/access: gates, grants with history, and the door-controller export (incremental, JSON and CSV)."""
from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta

import sqlalchemy as sa

from propsaas.residents import access as services
from propsaas.residents.models import AccessGrant, Gate, Occupancy
from tests.helpers import count_queries
from tests.renovations.estate import add_resident, api_token

API = '/api/v1/access'


def api_client(app, estate):
    client = app.test_client()
    client.base = f'http://{estate.tenant.slug}.localhost'
    return client


def make_gate(api, admin, code='east', name='东门') -> int:
    response = api.post(f'{API}/gates', json={'code': code, 'name': name}, headers=admin)
    assert response.status_code == 201, response.json
    return response.json['id']


def test_gates(app, estate, in_tenant):
    e = estate()
    api = api_client(app, e)
    admin, guard = api_token(in_tenant, e, e.admin), api_token(in_tenant, e, e.guard)
    gate_id = make_gate(api, admin)
    assert api.post(f'{API}/gates', json={'code': 'east', 'name': 'x'}, headers=admin).status_code == 422
    assert api.post(f'{API}/gates', json={'code': 'Bad Code!', 'name': 'x'}, headers=admin).status_code == 422
    assert api.post(f'{API}/gates', json={'code': 'west', 'name': 'x'}, headers=guard).status_code == 403
    patched = api.patch(f'{API}/gates/{gate_id}', json={'name': '东大门', 'active': False}, headers=admin)
    assert patched.status_code == 200 and patched.json == {'id': gate_id, 'code': 'east', 'name': '东大门',
                                                           'active': False}
    listed = api.get(f'{API}/gates?active=false', headers=guard).json
    assert [g['code'] for g in listed['items']] == ['east']
    assert api.get(f'{API}/gates', headers=guard).json['total'] == 4  # with the template's three
    assert api.get(f'{API}/gates', headers=api_token(in_tenant, e, e.owner_user)).status_code == 403
    assert api.patch(f'{API}/gates/99999999', json={'name': 'x'}, headers=admin).status_code == 404


def test_grants_and_face_rule(app, estate, in_tenant):
    e = estate()
    api = api_client(app, e)
    admin, desk = api_token(in_tenant, e, e.admin), api_token(in_tenant, e, e.desk)
    gate_id = make_gate(api, admin)
    face_only = api.post(f'{API}/grants', json={'resident_id': e.owner, 'gate_ids': [gate_id],
                                                'credentials': [{'kind': 'face', 'ref': 'F-1'}]}, headers=desk)
    assert face_only.status_code == 422 and 'face_ref' in face_only.json['error']['fields']
    created = api.post(f'{API}/grants', json={'resident_id': e.owner, 'gate_ids': [gate_id],
                                              'credentials': [{'kind': 'card', 'ref': 'C-1'},
                                                              {'kind': 'face', 'ref': 'F-1'}]}, headers=desk)
    assert created.status_code == 201
    items = created.json['items']
    assert [(g['credential_kind'], g['status'], g['gate_code'], g['resident_name']) for g in items] == [
        ('card', 'active', 'east', '王业主'), ('face', 'active', 'east', '王业主')]
    card_id = items[0]['id']
    blocked = api.post(f'{API}/grants/{card_id}/revoke', json={'reason': '换卡'}, headers=desk)
    assert blocked.status_code == 422
    revoked = api.post(f'{API}/grants/{items[1]["id"]}/revoke', json={'reason': '本人要求'}, headers=desk)
    assert revoked.status_code == 200 and revoked.json['status'] == 'revoked'
    assert revoked.json['revoke_reason'] == '本人要求' and revoked.json['revoked_at']
    history = api.get(f'{API}/grants?resident_id={e.owner}', headers=desk).json
    assert history['total'] == 2
    assert api.get(f'{API}/grants?resident_id={e.owner}&status=active', headers=desk).json['total'] == 1
    assert api.get(f'{API}/grants/{card_id}', headers=desk).json['credential_ref'] == 'C-1'
    for bad in ({'resident_id': 99999999, 'gate_ids': [gate_id], 'credentials': [{'kind': 'card', 'ref': 'x'}]},
                {'resident_id': e.owner, 'gate_ids': [99999999], 'credentials': [{'kind': 'card', 'ref': 'x'}]},
                {'resident_id': e.owner, 'gate_ids': [gate_id], 'credentials': [{'kind': 'iris', 'ref': 'x'}]},
                {'resident_id': e.owner, 'gate_ids': [], 'credentials': [{'kind': 'card', 'ref': 'x'}]}):
        assert api.post(f'{API}/grants', json=bad, headers=desk).status_code == 422, bad
    tech = api_token(in_tenant, e, e.tech)
    assert api.post(f'{API}/grants', json={'resident_id': e.owner, 'gate_ids': [gate_id],
                                           'credentials': [{'kind': 'qr', 'ref': 'Q'}]}, headers=tech).status_code \
        == 403
    assert api.get(f'{API}/grants', headers=tech).status_code == 200  # staff may look


def _export(api, headers, **params):
    query = '&'.join(f'{k}={v}' for k, v in params.items())
    response = api.get(f'{API}/export?{query}', headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response


def test_export_is_incremental(app, estate, in_tenant):
    e = estate()
    api = api_client(app, e)
    admin, guard = api_token(in_tenant, e, e.admin), api_token(in_tenant, e, e.guard)
    north, south = make_gate(api, admin, 'n1', '北一'), make_gate(api, admin, 's1', '南一')
    first = api.post(f'{API}/grants', json={'resident_id': e.owner, 'gate_ids': [north, south],
                                            'credentials': [{'kind': 'card', 'ref': 'C-1'}]}, headers=guard).json
    full = _export(api, guard).json
    assert full['count'] == 2 and full['has_more'] is False and full['cursor'] is None
    assert {row['gate_code'] for row in full['items']} == {'n1', 's1'}
    assert set(full['items'][0]) == {'grant_id', 'resident_id', 'resident_name', 'gate_code', 'credential_kind',
                                     'credential_ref', 'status', 'granted_at', 'revoked_at', 'updated_at'}
    since = full['next_since']
    assert since == max(row['updated_at'] for row in full['items'])
    assert _export(api, guard, changed_since=since).json['count'] == 0  # nothing new

    # one revoked, one new, then the neighbour moves out: exactly those come next, revoked ones included
    api.post(f'{API}/grants/{first["items"][0]["id"]}/revoke', json={'reason': '卡片遗失'}, headers=guard)
    api.post(f'{API}/grants', json={'resident_id': e.neighbour, 'gate_ids': [north],
                                    'credentials': [{'kind': 'qr', 'ref': 'Q-9'}]}, headers=guard)
    changes = _export(api, guard, changed_since=since).json
    assert [(row['credential_ref'], row['status']) for row in changes['items']] == [('C-1', 'revoked'),
                                                                                  ('Q-9', 'active')]
    assert changes['items'][0]['revoked_at'] is not None
    with in_tenant(e.tenant) as session:
        session.execute(sa.update(Occupancy).where(Occupancy.resident_id == e.neighbour)
                        .values(moved_out_on=date.today()))
        assert services.revoke_if_moved_out(e.neighbour) == 1
    moved = _export(api, guard, changed_since=changes['next_since']).json
    assert [(row['resident_id'], row['status']) for row in moved['items']] == [(e.neighbour, 'revoked')]

    # deactivating a gate: its grants export as revoked on the next call
    api.patch(f'{API}/gates/{south}', json={'active': False}, headers=admin)
    gate_off = _export(api, guard, changed_since=moved['next_since']).json
    assert [(row['gate_code'], row['status']) for row in gate_off['items']] == [('s1', 'revoked')]

    # an offset-less timestamp is UTC; one with an offset is converted
    naive = since.replace('Z', '')
    assert _export(api, guard, changed_since=naive).json['count'] == 3
    shanghai = (datetime.fromisoformat(since.replace('Z', '+00:00')) + timedelta(hours=8)).strftime(
        '%Y-%m-%dT%H:%M:%S.%f') + '%2B08:00'
    assert _export(api, guard, changed_since=shanghai).json['count'] == 3


def test_export_pages_with_a_cursor_lose_nothing(app, estate, in_tenant):
    e = estate()
    api = api_client(app, e)
    guard = api_token(in_tenant, e, e.guard)
    with in_tenant(e.tenant) as session:
        gates = [Gate(code=f'p{i}', name=f'门{i}') for i in range(7)]
        session.add_all(gates)
        session.flush()
        stamp = datetime(2026, 1, 1, 8, 0)  # seven grants changed in the same instant (one bulk revoke)
        session.add_all([AccessGrant(resident_id=e.owner, gate_id=g.id, credential_kind='card', credential_ref='C',
                                     granted_at=stamp, updated_at=stamp) for g in gates])
    seen, cursor, calls = [], None, 0
    while True:
        params = {'limit': 3, **({'cursor': cursor} if cursor else {})}
        page = _export(api, guard, **params).json
        seen += [row['grant_id'] for row in page['items']]
        calls += 1
        if not page['has_more']:
            break
        cursor = page['cursor']
    assert calls == 3 and len(seen) == 7 == len(set(seen))
    assert page['next_since'] == '2026-01-01T08:00:00Z'
    assert api.get(f'{API}/export?cursor=garbage', headers=guard).status_code == 422
    assert api.get(f'{API}/export?limit=0', headers=guard).status_code == 422
    assert api.get(f'{API}/export?format=xml', headers=guard).status_code == 422
    assert api.get(f'{API}/export?changed_since=yesterday', headers=guard).status_code == 422
    assert api.get(f'{API}/export?changed_since=0001-01-01T00:00:00%2B01:00', headers=guard).status_code == 422


def test_export_as_csv_neutralises_cells(app, estate, in_tenant):
    e = estate()
    api = api_client(app, e)
    admin, desk = api_token(in_tenant, e, e.admin), api_token(in_tenant, e, e.desk)
    gate_id = make_gate(api, admin, 'csv-gate')
    evil = add_resident(in_tenant, e, '=cmd|"/c calc"!A1', '2-1-201')
    api.post(f'{API}/grants', json={'resident_id': evil, 'gate_ids': [gate_id],
                                    'credentials': [{'kind': 'card', 'ref': '@SUM(1)'}]}, headers=desk)
    response = _export(api, desk, format='csv')
    assert response.mimetype == 'text/csv'
    assert response.headers['X-Has-More'] == 'false' and response.headers['X-Next-Since'].endswith('Z')
    rows = list(csv.DictReader(io.StringIO(response.data.decode('utf-8-sig'))))
    assert len(rows) == 1
    assert rows[0]['resident_name'] == '\'=cmd|"/c calc"!A1' and rows[0]['credential_ref'] == "'@SUM(1)"
    assert rows[0]['status'] == 'active' and rows[0]['revoked_at'] == ''
    later = _export(api, desk, format='csv', changed_since=response.headers['X-Next-Since'])
    assert later.data.decode('utf-8-sig').strip().count('\n') == 0  # the header only


def test_export_roles(app, estate, in_tenant):
    e = estate()
    api = api_client(app, e)
    assert api.get(f'{API}/export').status_code == 401
    for user, status in ((e.admin, 200), (e.guard, 200), (e.desk, 200), (e.tech, 403), (e.cashier, 403),
                         (e.owner_user, 403)):
        assert api.get(f'{API}/export', headers=api_token(in_tenant, e, user)).status_code == status


def test_grant_list_and_export_queries_do_not_grow(app, estate, in_tenant):
    counts = {}
    for n in (2, 25):
        e = estate()
        with in_tenant(e.tenant) as session:
            gates = [Gate(code=f'q{i}', name=f'门{i}') for i in range(n)]
            session.add_all(gates)
            session.flush()
            session.add_all([AccessGrant(resident_id=e.owner if i % 2 else e.neighbour, gate_id=g.id,
                                         credential_kind='card', credential_ref=f'C{i}') for i, g in enumerate(gates)])
        api = api_client(app, e)
        guard = api_token(in_tenant, e, e.guard)
        with count_queries(app) as listed:
            assert api.get(f'{API}/grants?per_page=100', headers=guard).json['total'] == n
        with count_queries(app) as exported:
            assert _export(api, guard).json['count'] == n
        counts[n] = (len(listed), len(exported))
    assert counts[2] == counts[25], counts


def test_two_projects(app, estate, in_tenant):
    a, b = estate('门禁甲苑'), estate('门禁乙苑')
    a_api, b_api = api_client(app, a), api_client(app, b)
    a_admin, b_admin = api_token(in_tenant, a, a.admin), api_token(in_tenant, b, b.admin)
    gate_id = make_gate(a_api, a_admin, 'a-only')
    grant = a_api.post(f'{API}/grants', json={'resident_id': a.owner, 'gate_ids': [gate_id],
                                              'credentials': [{'kind': 'card', 'ref': 'A-CARD'}]},
                       headers=a_admin).json['items'][0]
    assert b_api.patch(f'{API}/gates/{gate_id}', json={'name': '乙的'}, headers=b_admin).status_code == 404
    assert b_api.patch(f'{API}/gates/{gate_id}', json={'login': 'x'}, headers=b_admin).status_code == 404  # not 422
    assert b_api.get(f'{API}/grants/{grant["id"]}', headers=b_admin).status_code == 404
    assert b_api.post(f'{API}/grants/{grant["id"]}/revoke', json={'reason': 'x'}, headers=b_admin).status_code == 404
    grant_b = b_api.post(f'{API}/grants', json={'resident_id': a.owner, 'gate_ids': [gate_id],
                                                'credentials': [{'kind': 'card', 'ref': 'B'}]}, headers=b_admin)
    assert grant_b.status_code == 422
    assert 'A-CARD' not in b_api.get(f'{API}/export?format=csv', headers=b_admin).get_data(as_text=True)
    assert b_api.get(f'{API}/grants', headers=b_admin).json['total'] == 0
    assert a_api.get(f'{API}/grants/{grant["id"]}', headers=a_admin).json['status'] == 'active'
