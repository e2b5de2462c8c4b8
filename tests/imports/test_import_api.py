"""/api/v1/imports: the same import as the pages, with a bearer token."""
from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from propsaas.auth import services as auth_services
from propsaas.auth.models import User
from tests.imports.conftest import HEADER, csv_bytes, sample


@pytest.fixture
def token_for(in_tenant):
    def issue(tenant, user_id):
        with in_tenant(tenant) as session:
            raw, _ = auth_services.issue_api_token(session.get(User, user_id))
        return {'Authorization': f'Bearer {raw}'}

    return issue


@pytest.fixture
def api(app, tenant, admin_id, token_for):
    client = app.test_client()
    client.base = f'http://{tenant.slug}.localhost'
    client.headers = token_for(tenant, admin_id)
    return client


def post_file(client, data: bytes, filename: str = 'residents.csv', headers=None):
    return client.post('/api/v1/imports', data={'file': (io.BytesIO(data), filename)},
                       content_type='multipart/form-data', headers=headers or client.headers)


def test_upload_preview_rows_commit_and_report(api, tenant, counts):
    response = post_file(api, sample('residents_gbk.csv'))
    assert response.status_code == 201, response.json
    batch = response.json
    assert batch['status'] == 'previewed' and batch['has_error_report'] is True
    assert {k: batch['stats'][k] for k in ('new', 'update', 'unchanged', 'duplicate', 'error', 'total')} == {
        'new': 94, 'update': 0, 'unchanged': 0, 'duplicate': 1, 'error': 5, 'total': 100}

    rows = api.get(f'/api/v1/imports/{batch["id"]}/rows?kind=error&per_page=10', headers=api.headers).json
    assert rows['total'] == 5 and rows['pages'] == 1
    assert {(r['fields']['code'], r['errors'][0]['column']) for r in rows['items']} >= {('2-1-701', '联系电话'),
                                                                                      ('3-1-801', '身份')}
    first = api.get(f'/api/v1/imports/{batch["id"]}/rows?per_page=1', headers=api.headers).json
    assert first['total'] == 100 and first['items'][0]['fields']['mobile'] == '138****8301'
    assert first['items'][0]['fields']['area_m2'] == '95.00' and 'original' not in first['items'][0]

    report = api.get(f'/api/v1/imports/{batch["id"]}/errors.xlsx', headers=api.headers)
    assert report.status_code == 200
    assert len(list(load_workbook(io.BytesIO(report.data)).active.iter_rows())) == 7  # header + 6 rejected

    committed = api.post(f'/api/v1/imports/{batch["id"]}/commit', headers=api.headers, csrf=False)
    assert committed.status_code == 202 and committed.json['status'] == 'committed'
    assert committed.json['stats']['residents_created'] == 94
    assert counts(tenant)['occupancies'] == 94
    again = api.post(f'/api/v1/imports/{batch["id"]}/commit', headers=api.headers, csrf=False)
    assert again.status_code == 409 and again.json['error']['code'] == 'conflict'

    listed = api.get('/api/v1/imports', headers=api.headers).json
    assert listed['total'] == 1 and listed['items'][0]['id'] == batch['id']


@pytest.mark.parametrize(('data', 'words'), [
    (b'MZ' + b'\x00' * 100, '程序文件'),
    (csv_bytes([['a', 'b'], ['1', '2']]), '找不到表头'),
])
def test_refused_uploads_are_422_with_the_reason(api, tenant, counts, data, words):
    response = post_file(api, data)
    assert response.status_code == 422
    assert words in response.json['error']['message'] and words in response.json['error']['fields']['file'][0]
    assert counts(tenant)['import_batches'] == 0


def test_upload_needs_a_file(api):
    assert api.post('/api/v1/imports', json={}, headers=api.headers).status_code == 422
    assert api.post('/api/v1/imports', data='x=1', content_type='application/x-www-form-urlencoded',
                    headers=api.headers).status_code == 415


def test_nothing_valid_to_import_is_409(api):
    batch = post_file(api, csv_bytes([HEADER, ['1', '1', '101', '', '', '', '', '']])).json
    assert batch['stats']['error'] == 1
    response = api.post(f'/api/v1/imports/{batch["id"]}/commit', headers=api.headers, csrf=False)
    assert response.status_code == 409 and '没有可以导入的行' in response.json['error']['message']
    assert api.get(f'/api/v1/imports/{batch["id"]}/errors.xlsx', headers=api.headers).status_code == 200


def test_roles_and_tenants(app, api, tenant, make_tenant, make_user, token_for):
    batch = post_file(api, sample('residents_utf8bom.csv')).json
    technician = token_for(tenant, make_user(tenant, 'staff', duties=['technician']))
    desk = token_for(tenant, make_user(tenant, 'staff', duties=['service_desk']))
    resident = token_for(tenant, make_user(tenant, 'resident'))
    assert api.get(f'/api/v1/imports/{batch["id"]}', headers=technician).status_code == 403
    assert api.get(f'/api/v1/imports/{batch["id"]}', headers=resident).status_code == 403
    assert api.get(f'/api/v1/imports/{batch["id"]}', headers=desk).status_code == 200
    assert api.get(f'/api/v1/imports/{batch["id"]}').status_code == 401

    other = make_tenant(name='别的小区')
    b = app.test_client()
    b.base = f'http://{other.slug}.localhost'
    b_admin = token_for(other, make_user(other, 'admin'))
    for path in ('', '/rows', '/errors.xlsx'):
        response = b.get(f'/api/v1/imports/{batch["id"]}{path}', headers=b_admin)
        assert response.status_code == 404, path
    assert b.post(f'/api/v1/imports/{batch["id"]}/commit', headers=b_admin, csrf=False).status_code == 404
    assert b.get('/api/v1/imports', headers=b_admin).json['total'] == 0
