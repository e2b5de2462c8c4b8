"""A new project gets its room types, room tags, import headers and gates from the template's property.toml."""
import shutil
import uuid
from pathlib import Path

import sqlalchemy as sa

from propsaas.extensions import db
from propsaas.residents.models import Gate
from propsaas.tenancy import provisioning
from propsaas.tenancy.context import platform_scope
from propsaas.tenancy.models import Tenant
from tests.conftest import PASSWORD

TENANTS = Path(__file__).resolve().parents[2] / 'tenants'


def gates_of(in_tenant, tenant):
    with in_tenant(tenant) as session:
        return session.execute(sa.select(Gate.code, Gate.name).order_by(Gate.id)).all()


def test_residential_project_gets_types_tags_headers_and_gates(make_tenant, in_tenant):
    tenant = make_tenant(name='阳光花园')
    prop = tenant.settings['property']
    assert [t['code'] for t in prop['room_types']] == ['residence', 'shop', 'storage']
    assert {'高层', '底层', '临街', '带花园', '复式'} <= set(prop['room_tags'])
    headers = tenant.settings['import_headers']
    assert '房号' in headers['room'] and '手机号' in headers['mobile'] and '身份证号' in headers['id_number']
    assert {'building', 'unit', 'room', 'name', 'mobile', 'role', 'moved_in_on', 'area', 'note'} <= set(headers)
    assert tenant.settings['duties']  # the template's settings are kept alongside
    assert gates_of(in_tenant, tenant) == [('north-gate', '北门'), ('south-gate', '南门'),
                                           ('garage-entrance', '地下车库入口')]


def test_office_project_gets_lobby_turnstile(make_tenant, in_tenant):
    tenant = make_tenant(name='中心大厦', template='office-building')
    assert tenant.settings['property']['room_types'][0] == {'code': 'office', 'name': '办公'}
    assert ('lobby-turnstile', '大堂闸机') in gates_of(in_tenant, tenant)
    assert ('garage-entrance', '地库入口') in gates_of(in_tenant, tenant)


def test_template_without_property_toml_gets_defaults(app, tmp_path, in_tenant):
    root = tmp_path / 'tenants'
    shutil.copytree(TENANTS / 'standard-residential', root / 'bare')
    (root / 'bare' / 'property.toml').unlink()
    saved = app.config['TENANT_TEMPLATES_DIR']
    app.config['TENANT_TEMPLATES_DIR'] = str(root)
    try:
        with app.app_context():
            done = provisioning.create_tenant(f'bare-{uuid.uuid4().hex[:8]}', name='无房屋设置', template='bare',
                                              admin_email='a@bare.cn', admin_password=PASSWORD)
            db.session.commit()
            with platform_scope():
                tenant = db.session.execute(sa.select(Tenant).where(Tenant.id == done.tenant.id)).scalar_one()
                settings = dict(tenant.settings)
                db.session.expunge(tenant)
    finally:
        app.config['TENANT_TEMPLATES_DIR'] = saved
    assert [t['code'] for t in settings['property']['room_types']] == ['residence', 'shop', 'office', 'storage']
    assert settings['property']['room_tags'] == [] and settings['import_headers']['room']
    assert gates_of(in_tenant, tenant) == []


def test_the_project_uses_its_template_tags_on_room_pages(tenant, admin, make_building, room_id):
    make_building(tenant, name='1栋', units=1, floors=1, rooms_per_floor=1)
    page = admin.get(f'/property/rooms/{room_id(tenant, "1-1-101")}/edit')
    assert 'value="带花园"' in page.text and 'value="复式"' in page.text
