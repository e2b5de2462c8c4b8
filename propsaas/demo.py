"""``flask --app wsgi demo setup``: the demo tenant that ./scripts/demo serves, with three logins."""
from __future__ import annotations

import os
from datetime import date

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import AppGroup

from .auth import services as auth_services
from .auth.models import User
from .extensions import db
from .onboarding import pack
from .tenancy import provisioning
from .tenancy.context import tenant_scope

demo_cli = AppGroup('demo', help='Demo data for trying PropSaaS locally.')

DEMO_SLUG = 'demo'
DEMO_PASSWORD = 'Demo-propsaas-2026'
DEMO_PEOPLE = [
    # (role, name, email, mobile, duties)
    ('admin', '王经理', 'admin@demo.propsaas.cn', '13800000001', []),
    ('staff', '李师傅', 'tech@demo.propsaas.cn', '13800000002', ['technician', 'service_desk']),
    ('resident', '张女士', None, '13800000003', []),
]


DEMO_HOUSEHOLDS = [
    # (room code, name, mobile, role)
    ('1-1-101', '张女士', '13800000003', 'owner'),
    ('1-1-101', '张小明', None, 'family'),
    ('1-1-102', '李建国', '13900001102', 'owner'),
    ('1-1-201', '王芳', '13900001201', 'renter'),
    ('1-2-301', '赵磊', '13900002301', 'owner'),
    ('2-1-1801', '陈静', '13900011801', 'owner'),
]


def _demo_property(tenant) -> None:
    """Two buildings from patterns and a few households, once; the demo resident login lives in 1-1-101."""
    from decimal import Decimal

    from .property.models import Building
    from .property.services import BuildingPattern, create_building
    from .residents.models import Resident
    from .residents.services import create_resident

    if db.session.execute(sa.select(Building.id)).first():
        return
    create_building(BuildingPattern(name='1栋', units=2, floors=6, rooms_per_floor=2, has_lift=False,
                                    areas=(Decimal('89.50'), Decimal('112.76'))), by_user_id=None)
    create_building(BuildingPattern(name='2栋', units=1, floors=18, rooms_per_floor=4,
                                    areas=(Decimal('95.00'),)), by_user_id=None)
    db.session.flush()
    for code, name, mobile, role in DEMO_HOUSEHOLDS:
        create_resident({'name': name, 'mobile': mobile}, room_text=code, role=role,
                        moved_in_on=date(2021, 5, 1), today=date.today())
    db.session.flush()
    resident_user = db.session.execute(sa.select(User).where(User.mobile == DEMO_PEOPLE[2][3])).scalar_one()
    zhang = db.session.execute(sa.select(Resident).where(Resident.mobile == DEMO_PEOPLE[2][3])).scalar_one()
    zhang.user_id = resident_user.id


def _demo_notices(tenant) -> None:
    """Channels on with the 'log' provider (what would be sent is listed, nothing leaves the machine) and a pinned
    welcome notice, once. A demo database made before the notification center gets its templates here."""
    from .notices import announcements
    from .notices.models import Announcement, ChannelSetting, MessageTemplate
    from .notices.provisioning import provision_notices
    from .tenancy.delivery import load_template

    if db.session.execute(sa.select(MessageTemplate.id)).first() is None:
        provision_notices(tenant, load_template(tenant.template, provisioning.templates_root()))
        db.session.flush()
    db.session.execute(sa.update(ChannelSetting).where(ChannelSetting.provider == 'log').values(enabled=True))
    if db.session.execute(sa.select(Announcement.id)).first() is None:
        welcome = announcements.save(
            None, title='欢迎使用住户服务', category='社区活动', audience={'scope': 'all'}, pinned=True,
            body='<p>各位业主、住户：</p><p>在这里可以查看公告、接收消息、参与问卷。如需帮助，请联系物业服务中心。</p>')
        db.session.flush()
        announcements.publish_now(welcome)


def _demo_billing(tenant) -> None:
    """The rooms handed over in 2021 and this month's bills issued, once, so the cashier's pages and the resident's
    bills have something to show. A demo made before billing existed gets its fee items here."""
    from .billing.models import BillRun, FeeItem
    from .billing.provisioning import provision_fee_items
    from .billing.runs import start_run
    from .property.models import Room
    from .tenancy.clock import tenant_today
    from .tenancy.delivery import load_template

    if db.session.execute(sa.select(FeeItem.id)).first() is None:
        provision_fee_items(tenant, load_template(tenant.template, provisioning.templates_root()))
    db.session.execute(sa.update(Room).where(Room.billing_starts_on.is_(None))
                       .values(billing_starts_on=date(2021, 5, 1)))
    db.session.flush()
    if db.session.execute(sa.select(BillRun.id)).first() is None:
        today = tenant_today(tenant)
        start_run(tenant, f'{today:%Y-%m}', due_on=date(today.year, today.month, 28))
    if current_app.config.get('PAYMENT_SANDBOX'):  # the resident can pay online with 模拟支付
        from .billing.online import save_settings

        save_settings('sandbox', enabled=True, values={})


def _demo_equipment(tenant) -> None:
    """Two lifts with their inspection certificates, a water pump, a spare part, and the week's inspection tasks,
    once, so the ledger, a device's QR page and the technician's rounds have something to show."""
    from .inspections.generation import generate_ahead
    from .inspections.maintenance import save_part
    from .inspections.models import Device, DeviceCertificate
    from .property.models import Building
    from .tenancy.clock import tenant_today

    if db.session.execute(sa.select(Device.id)).first() is None:
        building = db.session.execute(sa.select(Building).order_by(Building.sort_order, Building.id)).scalars().first()
        today = tenant_today(tenant)
        lifts = [Device(code=f'DT-0{n}', name=f'{n}号客梯', category='lift',
                        building_id=building.id if building else None, location=f'{n}单元', model='GeN2',
                        vendor='奥的斯', installed_on=date(2021, 4, 1), contractor='华东电梯维保有限公司',
                        contractor_phone='021-55550000') for n in (1, 2)]
        pump = Device(code='SB-01', name='1号生活水泵', category='water_pump', location='地下一层水泵房',
                      installed_on=date(2021, 4, 1))
        db.session.add_all([*lifts, pump])
        db.session.flush()
        db.session.add_all([DeviceCertificate(device_id=lift.id, name='电梯定期检验合格证',
                                              number=f'TSX-2026-{lift.id:04d}', expires_on=date(today.year + 1, 4, 30))
                            for lift in lifts])
        save_part(None, name='电梯门机皮带', unit='条', min_stock=2, stock=5)
        db.session.flush()
    generate_ahead()


@demo_cli.command('setup')
def setup_cmd():
    """Create (or keep) the demo tenant and its admin, staff and resident; print their logins."""
    tenant = provisioning.find_tenant(DEMO_SLUG)
    if tenant is None:
        tenant = provisioning.create_tenant(DEMO_SLUG, name='阳光花园（演示）', template='standard-residential',
                                            admin_email=DEMO_PEOPLE[0][2], admin_password=DEMO_PASSWORD,
                                            admin_name=DEMO_PEOPLE[0][1], org='演示物业公司').tenant
    with tenant_scope(tenant.id):
        for role, name, email, mobile, duties in DEMO_PEOPLE:
            user = db.session.execute(sa.select(User).where(User.email == email) if email else
                                      sa.select(User).where(User.mobile == mobile)).scalar_one_or_none()
            if user is None:
                user, _ = auth_services.invite_user(name=name, email=email or '', mobile=mobile, role=role,
                                                    duties=duties, allowed_duties={d['code'] for d in tenant.duties})
            if user.mobile is None:
                user.mobile = mobile
            auth_services.accept_invitation(user, DEMO_PASSWORD)
            user.active = True
        _demo_property(tenant)
        db.session.commit()
        _demo_notices(tenant)
        db.session.commit()
        _demo_billing(tenant)
        db.session.commit()
        _demo_equipment(tenant)
        db.session.commit()
        if pack.latest_pack() is None:  # the 交付包 the project is handed over with (inline unless REDIS_URL is set)
            click.echo('rendering the onboarding pack (交付包) ...')
            pack.request_pack()
    base = current_app.config['BASE_DOMAIN']
    click.echo(f'demo tenant: http://{DEMO_SLUG}.{base}:{os.environ.get("PORT", "5000")}/')
    for role, name, email, mobile, _duties in DEMO_PEOPLE:
        click.echo(f'  {role:<9} {name}  login: {email or mobile}  password: {DEMO_PASSWORD}')
