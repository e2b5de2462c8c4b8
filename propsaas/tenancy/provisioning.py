"""Creating tenants from delivery templates, and suspending/resuming them. Platform code throughout.

Features that keep template sections (fee items, repair categories, inspection plans ...) add a provisioner
with ``@provisioner``; ``create_tenant`` runs them all in the same transaction, so a project is created
whole or not at all.
"""
from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l

from ..auth import services as auth_services
from ..errors import DomainError
from ..extensions import db
from .context import platform_scope, tenant_scope
from .delivery import DeliveryTemplate, TemplateError, load_template
from .hosts import BadHost, normalize_host, slug_problem
from .models import Organization, Tenant, TenantHostname

PROVISIONERS: list[Callable[[Tenant, DeliveryTemplate], None]] = []


def provisioner(func):
    """Register ``func(tenant, template)``, run inside the new tenant's scope when a tenant is created."""
    PROVISIONERS.append(func)
    return func


@provisioner
def _settings_from_template(tenant: Tenant, template: DeliveryTemplate) -> None:
    tenant.timezone = template.settings.get('timezone', tenant.timezone)
    tenant.locale = template.settings.get('locale', tenant.locale)
    fee_rules = template.sections.get('fees', {}).get('rules', {})
    late_fee = template.sections.get('fees', {}).get('late_fee', {})
    # the FAQ (常见问题) becomes the project's own: what the onboarding pack prints and save-template writes back out
    faq = [dict(entry) for entry in template.sections.get('faq', {}).get('entries', [])]
    tenant.settings = {**template.settings, 'duties': [dict(d) for d in template.duties], 'rules': dict(fee_rules),
                       'late_fee': dict(late_fee), 'faq': faq}


@dataclass
class Provisioned:
    tenant: Tenant
    admin_login: str
    admin_password: str | None  # set when it was generated, so the operator can pass it on


def templates_root() -> Path:
    return Path(current_app.config['TENANT_TEMPLATES_DIR'])


def find_tenant(slug: str) -> Tenant | None:
    with platform_scope():
        return db.session.execute(sa.select(Tenant).where(Tenant.slug == slug)).scalar_one_or_none()


def active_tenants(slug: str | None = None) -> list[tuple[int, str]]:
    """(id, slug) of every active project, or of the one named ``slug`` — what the operator commands that run a
    feature's daily work by hand go over. DomainError when ``slug`` names no project."""
    with platform_scope():
        query = sa.select(Tenant.id, Tenant.slug).where(Tenant.status == Tenant.ACTIVE).order_by(Tenant.id)
        if slug:
            query = query.where(Tenant.slug == slug)
        rows = [(tenant_id, tenant_slug) for tenant_id, tenant_slug in db.session.execute(query).all()]
        db.session.rollback()
    if slug and not rows:
        raise DomainError(_l('找不到项目 %(slug)s', slug=slug))
    return rows


def generate_password() -> str:
    # 4 groups of 4 unambiguous characters: easy to read out over the phone, ~80 bits.
    alphabet = 'abcdefghjkmnpqrstuvwxyz23456789'
    return '-'.join(''.join(secrets.choice(alphabet) for _ in range(4)) for _ in range(4))


def create_tenant(slug: str, *, name: str, template: str, admin_email: str, admin_password: str | None = None,
                  org: str | None = None, admin_name: str | None = None) -> Provisioned:
    """Create a tenant from a delivery template with its first admin, in the caller's transaction.

    Raises DomainError (slug taken or invalid, bad admin) or TemplateError; the caller rolls back.
    """
    slug = (slug or '').strip().lower()
    problem = slug_problem(slug)
    if problem:
        raise DomainError(problem)
    if find_tenant(slug) is not None:
        raise DomainError(f'a tenant with slug "{slug}" exists already')
    name = (name or '').strip()
    if not name or len(name) > 120:
        raise DomainError('name is required (at most 120 characters)')
    loaded = load_template(template, templates_root())
    with platform_scope():
        organization = None
        if org:
            organization = db.session.execute(
                sa.select(Organization).where(Organization.name == org)).scalar_one_or_none()
            if organization is None:
                organization = Organization(name=org)
                db.session.add(organization)
        tenant = Tenant(slug=slug, name=name, template=loaded.name, organization=organization, settings={})
        db.session.add(tenant)
        db.session.flush()
    generated = None
    if admin_password is None:
        admin_password = generated = generate_password()
    with tenant_scope(tenant.id):
        for provision in PROVISIONERS:
            provision(tenant, loaded)
        admin, _token = auth_services.invite_user(name=admin_name or '管理员', email=admin_email, role='admin',
                                                  allowed_duties=set())
        auth_services.accept_invitation(admin, admin_password)
        db.session.flush()
        admin_login = admin.email
    return Provisioned(tenant, admin_login, generated)


def set_status(slug: str, status: str) -> Tenant:
    tenant = find_tenant(slug)
    if tenant is None:
        raise DomainError(f'no tenant with slug "{slug}"')
    if tenant.is_deleted:  # restoring also clears the purge date: only the operator console's 恢复项目 does that
        raise DomainError(_l('项目 %(slug)s 已删除，请在运营后台的“项目数据”页恢复', slug=slug))
    tenant.status = status
    return tenant


def add_hostname(slug: str, hostname: str, base_domain: str) -> str:
    """Let ``hostname`` (a domain the project owns, pointed at us by DNS) lead to the tenant ``slug``."""
    tenant = find_tenant(slug)
    if tenant is None:
        raise DomainError(f'no tenant with slug "{slug}"')
    try:
        host = normalize_host(hostname)
    except BadHost:
        raise DomainError(f'"{hostname}" is not a hostname') from None
    if host == base_domain or host.endswith('.' + base_domain) or '.' not in host or host.startswith('['):
        raise DomainError(f'"{host}" must be a domain of the project\'s own, outside {base_domain}')
    with platform_scope():
        if db.session.execute(sa.select(TenantHostname.id).where(TenantHostname.hostname == host)).first():
            raise DomainError(f'"{host}" is already registered')
        row = TenantHostname(tenant_id=tenant.id, hostname=host)
        db.session.add(row)
        db.session.flush()  # inside the platform scope: the row belongs to no current tenant
    return host


def remove_hostname(hostname: str) -> None:
    with platform_scope():
        row = db.session.execute(sa.select(TenantHostname).where(TenantHostname.hostname == hostname.lower())
                                 ).scalar_one_or_none()
        if row is None:
            raise DomainError(f'"{hostname}" is not registered')
        db.session.delete(row)
        db.session.flush()


def list_tenants() -> list[Tenant]:
    with platform_scope():
        return db.session.execute(sa.select(Tenant).order_by(Tenant.slug)).scalars().all()


__all__ = ['TemplateError', 'create_tenant', 'set_status', 'list_tenants', 'provisioner', 'Provisioned']
