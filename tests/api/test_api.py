"""The JSON API base: tokens, /me, one error shape, pagination, content types, the OpenAPI document."""
import pytest

from tests.conftest import PASSWORD


@pytest.fixture
def tenant(make_tenant):
    return make_tenant(name='接口小区')


@pytest.fixture
def api(app, tenant):
    client = app.test_client()
    client.base = f'http://{tenant.slug}.localhost'
    return client


def token_for(api, login, password=PASSWORD):
    response = api.post('/api/v1/auth/token', json={'login': login, 'password': password})
    assert response.status_code == 201, response.json
    return {'Authorization': f'Bearer {response.json["token"]}'}


def test_token_me_and_revoke(api, tenant, make_user):
    make_user(tenant, 'resident', mobile='13712345678', name='钱先生')
    response = api.post('/api/v1/auth/token', json={'login': '13712345678', 'password': PASSWORD})
    assert response.status_code == 201
    assert set(response.json) == {'token', 'expires_at'}
    bearer = {'Authorization': f'Bearer {response.json["token"]}'}
    me = api.get('/api/v1/me', headers=bearer)
    assert me.status_code == 200
    assert me.json['name'] == '钱先生' and me.json['mobile'] == '137****5678'
    assert me.json['tenant'] == {'slug': tenant.slug, 'name': '接口小区'}
    assert api.delete('/api/v1/auth/token', headers=bearer).status_code == 204
    assert api.get('/api/v1/me', headers=bearer).status_code == 401


def test_error_shape_is_the_same_everywhere(api, tenant):
    cases = [
        api.get('/api/v1/me'),
        api.get('/api/v1/me', headers={'Authorization': 'Bearer nonsense'}),
        api.post('/api/v1/auth/token', json={'login': f'admin@{tenant.slug}.cn', 'password': 'wrong-one-1'}),
        api.post('/api/v1/auth/token', json={'login': 'x'}),
        api.get('/api/v1/nope'),
        api.put('/api/v1/me'),
    ]
    assert [r.status_code for r in cases] == [401, 401, 401, 422, 404, 405]
    for response in cases:
        assert set(response.json) == {'error'}
        assert set(response.json['error']) == {'code', 'message', 'fields'}
        assert response.json['error']['message']
    assert 'password' in cases[3].json['error']['fields']


def test_wrong_content_type_is_415(api):
    response = api.post('/api/v1/auth/token', data='login=a&password=b',
                        content_type='application/x-www-form-urlencoded')
    assert response.status_code == 415
    assert response.json['error']['code'] == 'unsupported_media_type'
    assert 'JSON' in response.json['error']['message']


def test_malformed_and_overlong_json_is_4xx(api):
    assert api.post('/api/v1/auth/token', data=b'{"login": ', content_type='application/json').status_code == 400
    assert api.post('/api/v1/auth/token', data=b'\xff\xfe\x00', content_type='application/json').status_code == 400
    long = api.post('/api/v1/auth/token', json={'login': 'a' * 5000, 'password': 'b' * 5000})
    assert long.status_code == 422
    assert set(long.json['error']['fields']) == {'login', 'password'}
    assert api.post('/api/v1/auth/token', json=['not', 'an', 'object']).status_code == 422


def test_lists_are_paginated(api, tenant, make_user):
    for i in range(5):
        make_user(tenant, 'resident', name=f'住户{i}')
    bearer = token_for(api, f'admin@{tenant.slug}.cn')
    page = api.get('/api/v1/users?per_page=2&page=2', headers=bearer)
    assert page.status_code == 200
    assert page.json['page'] == 2 and page.json['per_page'] == 2 and page.json['total'] == 6
    assert page.json['pages'] == 3 and len(page.json['items']) == 2
    assert api.get('/api/v1/users?per_page=1000', headers=bearer).status_code == 422
    assert api.get('/api/v1/users?page=abc', headers=bearer).status_code == 422


def test_roles_on_the_api(api, tenant, make_user):
    make_user(tenant, 'resident', mobile='13700000009')
    bearer = token_for(api, '13700000009')
    assert api.get('/api/v1/users', headers=bearer).status_code == 403
    assert api.get('/api/v1/jobs', headers=bearer).status_code == 403


def test_token_endpoint_is_throttled(api, tenant):
    statuses = [api.post('/api/v1/auth/token', json={'login': f'admin@{tenant.slug}.cn',
                                                     'password': 'wrong-again-1'}).status_code for _ in range(6)]
    assert statuses[-1] == 429 and statuses[:5] == [401] * 5
    assert api.post('/api/v1/auth/token', json={'login': f'admin@{tenant.slug}.cn',
                                                'password': 'x'}).json['error']['code'] == 'rate_limited'


def test_openapi_document(app, api):
    spec = api.get('/api/v1/openapi.json').json
    assert spec['openapi'].startswith('3.')
    assert {'/api/v1/auth/token', '/api/v1/me', '/api/v1/jobs', '/api/v1/jobs/{job_id}', '/api/v1/users'} <= set(
        spec['paths'])
    assert spec['components']['securitySchemes']['bearerAuth']['scheme'] == 'bearer'
    assert 'login' in spec['components']['schemas']['TokenRequest']['properties']


def test_api_is_not_served_on_the_platform_host(app):
    response = app.test_client().get('/api/v1/me', base_url='http://localhost')
    assert response.status_code == 404
    assert response.json['error']['code'] == 'not_found'


def test_healthz(app):
    response = app.test_client().get('/healthz', base_url='http://localhost')
    assert response.status_code == 200
    assert response.json['database'] == {'ok': True}
    assert response.json['queue']['mode'] == 'inline'
