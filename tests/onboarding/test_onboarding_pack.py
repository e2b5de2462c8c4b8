"""The onboarding pack (交付包): one PDF with the project's configuration, the manuals, the FAQ, the admin's first login
and one activation code per household; regenerating voids the older codes; admins only; the CLI requests it."""
from __future__ import annotations

import re

import sqlalchemy as sa

from propsaas.auth.models import User
from propsaas.billing.models import FeeItem
from propsaas.onboarding import pack
from propsaas.onboarding.models import ActivationCode
from propsaas.repairs.models import RepairCategory
from tests.conftest import PASSWORD
from tests.onboarding.conftest import pdf_text


def _flat(text: str) -> str:
    return re.sub(r'\s+', '', text)


def test_the_pack_holds_the_configuration_manuals_faq_admin_login_and_one_code_per_household(
        estate, render_pack, in_tenant):
    place = estate()
    with in_tenant(place.tenant) as session:
        fee_names = session.execute(sa.select(FeeItem.name).where(FeeItem.active.is_(True))).scalars().all()
        categories = session.execute(sa.select(RepairCategory.name)).scalars().all()
        faq = pack.project_faq(session.get(pack.Tenant, place.tenant.id))
    assert fee_names and categories and faq
    done = render_pack(place)
    text = _flat(done.text)
    assert all(_flat(name) in text for name in fee_names)
    assert all(_flat(name) in text for name in categories)
    headings = ('管理员操作手册', '客服操作手册', '收费员操作手册', '工程人员操作手册', '常见问题', '管理员首次登录')
    assert all(heading in text for heading in headings)
    assert all(_flat(entry['question']) in text for entry in faq[:3])
    # the admin set a password at provisioning: the pack says where to log in, and holds no password
    assert '管理员账号已启用' in text and f'{place.tenant.slug}.localhost/login' in text
    assert PASSWORD not in done.text and '/invite/' not in text
    # one page per household, each with its own code, and nothing else looks like a code
    assert sorted(done.codes) == ['1-1-101', '1-1-102', '2-1-101']
    assert len(set(done.codes.values())) == 3
    assert sorted(pack_codes(done.text)) == sorted(done.codes.values())
    assert done.record['result']['households'] == 3
    with in_tenant(place.tenant) as session:
        assert session.execute(sa.select(sa.func.count(ActivationCode.id))).scalar_one() == 3
    # downloaded through the jobs pages
    download = done.client.get(f'/jobs/{done.record["id"]}/download')
    assert download.status_code == 200 and download.data[:5] == b'%PDF-'
    download.close()
    page = done.client.get('/settings/onboarding-pack').get_data(as_text=True)
    assert '下载交付包' in page and '已完成' in page


def pack_codes(text: str) -> list[str]:
    from tests.onboarding.conftest import CODE_RE

    return CODE_RE.findall(text)


def test_an_admin_without_a_password_gets_a_single_use_invitation_link(estate, render_pack, in_tenant, app,
                                                                       make_user):
    place = estate()
    with in_tenant(place.tenant) as session:
        session.get(User, place.admin).password_hash = None  # the first admin has not set a password yet
    done = render_pack(place, by=make_user(place.tenant, 'admin'))
    text = _flat(done.text)
    match = re.search(r'/invite/([A-Za-z0-9_\-]{20,})', text)
    assert match, text
    assert PASSWORD not in done.text
    client = app.test_client()
    client.base = f'http://{place.tenant.slug}.localhost'
    assert client.get(f'/invite/{match.group(1)}').status_code == 200
    response = client.post(f'/invite/{match.group(1)}', data={'password': 'Spring-Garden-77', 'confirm':
                                                              'Spring-Garden-77'})
    assert response.status_code == 302
    assert client.get(f'/invite/{match.group(1)}').status_code == 404  # used


def test_regenerating_voids_the_older_unused_codes(estate, render_pack, app):
    place = estate()
    first = render_pack(place)
    second = render_pack(place)
    assert set(first.codes.values()).isdisjoint(second.codes.values())
    client = app.test_client()
    client.base = f'http://{place.tenant.slug}.localhost'
    old = client.post('/activate', data={'mode': 'code', 'code': first.codes['1-1-102'], 'name': '李四',
                                         'mobile': '13600002222', 'password': 'Blue-River-2024',
                                         'confirm': 'Blue-River-2024'})
    assert old.status_code == 422 and '激活码不正确、已使用或已过期' in old.get_data(as_text=True)
    new = client.post('/activate', data={'mode': 'code', 'code': second.codes['1-1-102'], 'name': '李四',
                                         'mobile': '13600002222', 'password': 'Blue-River-2024',
                                         'confirm': 'Blue-River-2024'})
    assert new.status_code == 302


def test_only_admins_see_the_pack_page(estate, make_user, client_for):
    place = estate()
    desk = make_user(place.tenant, 'staff', duties=['service_desk'])
    client = client_for(place.tenant, desk)
    assert client.get('/settings/onboarding-pack').status_code == 403
    assert client.post('/settings/onboarding-pack').status_code == 403
    admin = client_for(place.tenant, place.admin)
    page = admin.get('/settings/onboarding-pack').get_data(as_text=True)
    assert '还没有生成过交付包' in page and '3 户' in page


def test_tenants_create_requests_the_pack_after_the_commit(runner, app, in_tenant):
    result = runner.invoke(args=['tenants', 'create', 'onboard-cli', '--name', '青松苑', '--admin-email',
                                 'boss@qingsong.cn', '--admin-password', 'Green-Pine-2026'])
    assert result.exit_code == 0, result.output
    assert 'onboarding pack: job' in result.output
    assert 'Green-Pine-2026' not in result.output.split('onboarding pack')[1]
    tenant = pack.Tenant
    with app.app_context():
        from propsaas.tenancy.provisioning import find_tenant
        created = find_tenant('onboard-cli')
    with in_tenant(created) as session:
        record = pack.latest_pack()
        assert record is not None and record.status == 'done', record and record.error
        data = pack.storage.path_for(record.result_file).read_bytes()
        assert session.get(tenant, created.id).name == '青松苑'
    text = _flat(''.join(pdf_text(data)))
    assert '青松苑' in text and 'Green-Pine-2026' not in text and '管理员操作手册' in text


def test_the_platform_function_requests_the_pack_inside_the_project(estate, app, in_tenant):
    place = estate()
    with app.app_context():
        record_id = pack.request_pack_for(place.tenant.id)
    with in_tenant(place.tenant) as session:
        record = session.get(pack.JobRecord, record_id)
        assert record.status == 'done' and record.result['households'] == 3
