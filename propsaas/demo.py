"""``flask --app wsgi demo setup``: the demo tenant that ./scripts/demo serves, with three logins."""
from __future__ import annotations

import os

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import AppGroup

from .auth import services as auth_services
from .auth.models import User
from .extensions import db
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
        db.session.commit()
    base = current_app.config['BASE_DOMAIN']
    click.echo(f'demo tenant: http://{DEMO_SLUG}.{base}:{os.environ.get("PORT", "5000")}/')
    for role, name, email, mobile, _duties in DEMO_PEOPLE:
        click.echo(f'  {role:<9} {name}  login: {email or mobile}  password: {DEMO_PASSWORD}')
