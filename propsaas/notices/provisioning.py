"""Provisioning of a delivery template's notices.toml: announcement categories and quiet hours go to
``tenant.settings``; announcement templates and feature messages become the tenant's editable MessageTemplates;
each external channel gets a (switched off) setting with the 'log' provider, for the admin to configure.
"""
from __future__ import annotations

import sqlalchemy as sa

from ..extensions import db
from ..tenancy.delivery import NOTICE_PLACEHOLDERS, DeliveryTemplate, load_template
from ..tenancy.models import Tenant
from ..tenancy.provisioning import provisioner, templates_root
from .delivery import DEFAULT_RATES
from .models import EXTERNAL_CHANNELS, ChannelSetting, MessageTemplate


@provisioner
def provision_notices(tenant: Tenant, template: DeliveryTemplate) -> None:
    section = template.sections['notices']
    tenant.settings = {
        **(tenant.settings or {}),
        'notice_categories': list(section.get('categories') or []),
        'notifications': {'quiet_hours': list(section.get('quiet_hours') or ['22:00', '08:00'])},
    }
    db.session.add_all(seed_templates(section))
    db.session.add_all([ChannelSetting(channel=channel, enabled=False, provider='log',
                                       rate_per_minute=DEFAULT_RATES[channel], config={})
                        for channel in EXTERNAL_CHANNELS])


def seed_templates(section: dict) -> list[MessageTemplate]:
    rows = [MessageTemplate(code=t['code'], name=f"{t['category']}：{t['code']}"[:60], category=t['category'],
                            title=t['title'], body=t['body'].strip(), sms_text='',
                            variables=sorted(NOTICE_PLACEHOLDERS), channels=[])
            for t in section.get('templates', [])]
    taken = {row.code for row in rows}
    rows += [MessageTemplate(code=m['code'], name=m['name'], category=None, title=m['title'], body=m['body'].strip(),
                             sms_text=m.get('sms', ''), variables=list(m.get('variables', [])),
                             channels=list(m.get('channels', [])))
             for m in section.get('messages', []) if m['code'] not in taken]
    return rows


def add_missing_templates(tenant: Tenant) -> list[str]:
    """Add the message templates of the project's delivery template that it lacks (a feature shipped after the
    project was provisioned: 'repair_dispatched' ...); the ones it has, edited or not, are left alone. The codes
    added. For ``flask notices add-templates``; the caller commits. Raises TemplateError for a broken template."""
    if not tenant.template:
        return []
    section = load_template(tenant.template, templates_root()).sections['notices']
    have = set(db.session.execute(sa.select(MessageTemplate.code)).scalars())
    missing = [row for row in seed_templates(section) if row.code not in have]
    db.session.add_all(missing)
    return [row.code for row in missing]
