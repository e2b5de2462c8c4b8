"""Bad input anywhere gets a 4xx with a reason, never a 500, and saves nothing."""
import pytest


@pytest.fixture
def tenant(make_tenant):
    return make_tenant(name='输入小区')


def test_non_utf8_form_data(tenant, client_for):
    client = client_for(tenant)
    response = client.post('/login', data=b'login=\xff\xfe\xb0&password=\xc3\x28',
                           content_type='application/x-www-form-urlencoded')
    assert 400 <= response.status_code < 500


def test_gbk_encoded_form_data(tenant, client_for, make_user):
    admin = make_user(tenant, 'admin')
    client = client_for(tenant, admin)
    body = b'name=' + '张三'.encode('gbk') + b'&mobile=13900007777&role=resident'
    response = client.post('/users', data=body, content_type='application/x-www-form-urlencoded', csrf=False)
    assert 400 <= response.status_code < 500


def test_overlong_fields(tenant, client_for):
    response = client_for(tenant).post('/login', data={'login': 'x' * 10_000, 'password': 'y' * 10_000})
    assert response.status_code == 422
    assert '长' in response.text or '254' in response.text


def test_body_over_the_limit_is_413(app, tenant, client_for):
    response = client_for(tenant).post('/login', data={'login': 'a', 'password': 'b' * (2 * 1024 * 1024)})
    assert response.status_code == 413
    assert '太大' in response.text


def test_unknown_route_and_method(tenant, client_for):
    client = client_for(tenant)
    assert client.get('/no/such/page').status_code == 404
    assert client.delete('/login').status_code == 405


def test_bad_ids_are_404(tenant, make_user, client_for):
    client = client_for(tenant, make_user(tenant, 'admin'))
    assert client.get('/jobs/99999999').status_code == 404
    assert client.get('/jobs/abc').status_code == 404
    assert client.post('/users/99999999999999999999/deactivate').status_code == 404
