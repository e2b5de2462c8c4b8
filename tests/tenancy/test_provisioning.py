"""Operators create projects from delivery templates: whole or not at all."""
import json
import shutil
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from propsaas.auth.models import User
from propsaas.extensions import db
from propsaas.tenancy.context import platform_scope
from propsaas.tenancy.models import Organization, Tenant

TEMPLATES = Path(__file__).resolve().parents[2] / 'tenants'


def slug():
    return f'p-{uuid.uuid4().hex[:10]}'


def count_tenants(app, **where):
    with app.app_context(), platform_scope():
        return db.session.execute(sa.select(sa.func.count(Tenant.id)).filter_by(**where)).scalar_one()


def test_create_prints_url_and_generated_password_then_admin_logs_in(app, runner, client_for):
    s = slug()
    result = runner.invoke(args=['tenants', 'create', s, '--name', '阳光花园', '--template', 'standard-residential',
                                 '--admin-email', 'Boss@Sunshine.cn', '--org', '阳光物业'])
    assert result.exit_code == 0, result.output
    assert f'http://{s}.localhost/' in result.output
    password = next(line.split()[1] for line in result.output.splitlines() if line.startswith('password:'))
    with app.app_context(), platform_scope():
        tenant = db.session.execute(sa.select(Tenant).where(Tenant.slug == s)).scalar_one()
        assert tenant.template == 'standard-residential' and tenant.timezone == 'Asia/Shanghai'
        assert tenant.organization.name == '阳光物业'
        assert {'service_desk', 'cashier', 'technician'} <= {d['code'] for d in tenant.duties}
        admin = db.session.execute(sa.select(User).where(User.tenant_id == tenant.id)).scalar_one()
        assert admin.role == 'admin' and admin.email == 'boss@sunshine.cn'
        db.session.expunge(tenant)
    client = client_for(tenant)
    assert client.post('/login', data={'login': 'boss@sunshine.cn', 'password': password}).status_code == 302


def test_same_slug_twice_is_refused_and_changes_nothing(app, runner):
    s = slug()
    args = ['tenants', 'create', s, '--name', '甲', '--admin-email', 'a@a.cn', '--admin-password', 'Valid-Pass-2026']
    assert runner.invoke(args=args).exit_code == 0
    other_name = f'乙{s}'
    again = runner.invoke(args=['tenants', 'create', s, '--name', other_name, '--admin-email', 'b@b.cn'])
    assert again.exit_code != 0
    assert 'exists already' in again.output
    assert count_tenants(app, slug=s) == 1 and count_tenants(app, name=other_name) == 0


@pytest.mark.parametrize('bad_slug, reason', [('www', 'reserved'), ('Bad_Slug', 'lowercase'), ('ab', '3-40')])
def test_bad_slugs_are_refused(runner, bad_slug, reason):
    result = runner.invoke(args=['tenants', 'create', bad_slug, '--name', 'x', '--admin-email', 'a@a.cn'])
    assert result.exit_code != 0 and reason in result.output


def test_weak_admin_password_refused_nothing_created(app, runner):
    s = slug()
    result = runner.invoke(args=['tenants', 'create', s, '--name', '弱密码', '--admin-email', 'a@a.cn',
                                 '--admin-password', 'password123'])
    assert result.exit_code != 0 and '太常见' in result.output
    assert count_tenants(app, slug=s) == 0


def test_broken_template_is_reported_with_file_and_key_and_nothing_created(app, runner, tmp_path):
    shutil.copytree(TEMPLATES / 'standard-residential', tmp_path / 'broken')
    fees = tmp_path / 'broken' / 'fees.toml'
    fees.write_text(fees.read_text(encoding='utf-8').replace('\nrate = "1.80"', '\nrate = 1.8', 1), encoding='utf-8')
    s = slug()
    old = app.config['TENANT_TEMPLATES_DIR']
    app.config['TENANT_TEMPLATES_DIR'] = str(tmp_path)
    try:
        result = runner.invoke(args=['tenants', 'create', s, '--name', '坏模板', '--template', 'broken',
                                     '--admin-email', 'a@a.cn'])
        listing = runner.invoke(args=['tenants', 'templates'])
    finally:
        app.config['TENANT_TEMPLATES_DIR'] = old
    assert result.exit_code != 0, result.output
    assert 'fees.toml' in result.output and 'rate' in result.output
    assert count_tenants(app, slug=s) == 0
    assert 'broken' in listing.output and 'INVALID' in listing.output


def test_unknown_template(runner):
    result = runner.invoke(args=['tenants', 'create', slug(), '--name', 'x', '--template', 'nope',
                                 '--admin-email', 'a@a.cn'])
    assert result.exit_code != 0 and 'standard-residential' in result.output


def test_list_suspend_resume(app, runner, make_tenant):
    tenant = make_tenant(name='列表小区')
    listing = json.loads(runner.invoke(args=['tenants', 'list', '--json']).output)
    row = next(r for r in listing if r['slug'] == tenant.slug)
    assert row['status'] == 'active' and row['name'] == '列表小区'
    assert runner.invoke(args=['tenants', 'suspend', tenant.slug]).exit_code == 0
    assert count_tenants(app, slug=tenant.slug, status='suspended') == 1
    assert runner.invoke(args=['tenants', 'resume', tenant.slug]).exit_code == 0
    assert count_tenants(app, slug=tenant.slug, status='active') == 1
    assert runner.invoke(args=['tenants', 'suspend', 'no-such-tenant']).exit_code != 0


def test_templates_command_lists_descriptions(runner):
    output = runner.invoke(args=['tenants', 'templates']).output
    assert 'standard-residential' in output and 'office-building' in output and '住宅' in output


def test_batch_file_with_one_bad_row(app, runner, tmp_path):
    good, other = slug(), slug()
    csv_text = ('slug,name,template,admin_email,admin_password,org\n'
                f'{good},绿城花园,standard-residential,g@g.cn,,绿城物业\n'
                'www,保留名,standard-residential,w@w.cn,,\n'
                f'{other},星河写字楼,office-building,o@o.cn,Office-Tower-88,绿城物业\n')
    path = tmp_path / 'projects.csv'
    path.write_bytes(csv_text.encode('gbk'))  # as WPS saves it
    result = runner.invoke(args=['tenants', 'provision', str(path)])
    assert result.exit_code == 1
    assert 'line 3' in result.output and 'reserved' in result.output
    assert '2 created, 0 skipped, 1 failed' in result.output
    assert count_tenants(app, slug=good) == 1 and count_tenants(app, slug=other) == 1
    with app.app_context(), platform_scope():
        assert db.session.execute(sa.select(sa.func.count(Organization.id)).where(Organization.name == '绿城物业')
                                  ).scalar_one() == 1
    rerun = runner.invoke(args=['tenants', 'provision', str(path)])
    assert '0 created, 2 skipped, 1 failed' in rerun.output


def test_operator_console(app, runner, make_tenant):
    tenant = make_tenant(name='控制台小区')
    email = f'op-{uuid.uuid4().hex[:6]}@propsaas.cn'
    created = runner.invoke(args=['operators', 'create', email, '--name', '运营'],
                            input='Operator-Pass-77\nOperator-Pass-77\n')
    assert created.exit_code == 0, created.output
    client = app.test_client()
    client.base = 'http://localhost'
    assert client.get('/operator/tenants').status_code == 302
    login = client.post('/operator/login', data={'login': email, 'password': 'Operator-Pass-77'})
    assert login.status_code == 302
    page = client.get('/operator/tenants')
    assert '控制台小区' in page.text
    assert client.post(f'/operator/tenants/{tenant.slug}/suspend').status_code == 302
    assert count_tenants(app, slug=tenant.slug, status='suspended') == 1
    # An operator session means nothing on a tenant host.
    cookie = client.get_cookie('propsaas_session', domain='localhost').value
    intruder = app.test_client()
    intruder.set_cookie('propsaas_session', cookie, domain=f'{tenant.slug}.localhost')
    assert intruder.get('/users', base_url=f'http://{tenant.slug}.localhost').status_code in (302, 403)


def test_custom_hostnames_from_the_cli(app, runner, make_tenant):
    tenant, other = make_tenant(name='域名小区'), make_tenant()
    host = f'wuye-{uuid.uuid4().hex[:6]}.example.cn'
    added = runner.invoke(args=['tenants', 'add-hostname', tenant.slug, host.upper()])
    assert added.exit_code == 0, added.output
    assert '域名小区' in app.test_client().get('/login', base_url=f'http://{host}').text
    taken = runner.invoke(args=['tenants', 'add-hostname', other.slug, host])
    assert taken.exit_code != 0 and 'already registered' in taken.output
    inside = runner.invoke(args=['tenants', 'add-hostname', other.slug, f'x.{other.slug}.localhost'])
    assert inside.exit_code != 0 and 'outside localhost' in inside.output
    assert runner.invoke(args=['tenants', 'add-hostname', other.slug, 'bad host!']).exit_code != 0
    assert runner.invoke(args=['tenants', 'remove-hostname', host]).exit_code == 0
    assert app.test_client().get('/login', base_url=f'http://{host}').status_code == 404
