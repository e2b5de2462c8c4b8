from tests.conftest import PASSWORD


def test_login_and_home(app, make_tenant, make_user, client_for):
    tenant = make_tenant(name='阳光花园')
    client = client_for(tenant)
    page = client.get('/login')
    assert page.status_code == 200
    response = client.post('/login', data={'login': f'admin@{tenant.slug}.cn', 'password': PASSWORD})
    assert response.status_code == 302, response.text
    home = client.get('/')
    assert '阳光花园' in home.text
