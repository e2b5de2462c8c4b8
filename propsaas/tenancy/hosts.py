"""Which tenant a request is for, from its Host header (port ignored).

``<slug>.<BASE_DOMAIN>`` is that tenant, a registered custom hostname is its tenant, the bare base domain is
the platform site, and anything else is unknown (404). One URL map serves every host, so custom domains
work exactly like subdomains.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import sqlalchemy as sa

from ..extensions import db
from .context import platform_scope
from .models import Tenant, TenantHostname

#: one DNS label: lowercase letters, digits and inner hyphens; 3-40 characters for a project's slug
SLUG_RE = re.compile(r'^[a-z0-9](?:[a-z0-9-]{1,38}[a-z0-9])$')
#: slugs that would shadow platform services or confuse people
RESERVED_SLUGS = frozenset('''
    www api admin ops static mail smtp imap pop pop3 ftp app apps platform console status help support docs blog
    assets cdn media files ns ns1 ns2 mx dev test staging demo-platform localhost root billing auth login logout
    signup register operator operators system webhook webhooks pay payment wx wechat alipay sms m mobile
'''.split())
_LABEL = r'[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?'
_HOSTNAME_RE = re.compile(rf'^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*$')


class BadHost(ValueError):
    """The Host header is not a hostname at all (400, not 404)."""


def slug_problem(slug: str) -> str | None:
    """Why ``slug`` can't name a tenant, or None when it can."""
    if not SLUG_RE.match(slug or ''):
        return 'slug must be 3-40 lowercase letters, digits or inner hyphens'
    if slug in RESERVED_SLUGS:
        return f'slug "{slug}" is reserved'
    return None


def normalize_host(raw: str) -> str:
    """Lowercase hostname without port or trailing dot; raises BadHost for anything malformed."""
    host = (raw or '').strip().lower()
    if host.startswith('['):  # IPv6 literal: never a tenant, but not malformed either
        end = host.find(']')
        if end < 0:
            raise BadHost(raw)
        return host[: end + 1]
    name, _, port = host.partition(':')
    if port and not port.isdigit():
        raise BadHost(raw)
    name = name.rstrip('.')
    if not _HOSTNAME_RE.match(name):
        raise BadHost(raw)
    return name


@dataclass(frozen=True)
class HostMatch:
    platform: bool
    tenant: Tenant | None = None


# Built once (every request runs one): building a statement costs more than running it from the compiled cache.
@functools.cache
def _by_slug() -> sa.Select:
    return sa.select(Tenant).where(Tenant.slug == sa.bindparam('slug'))


@functools.cache
def _by_hostname() -> sa.Select:
    return (sa.select(Tenant).join(TenantHostname, TenantHostname.tenant_id == Tenant.id)
            .where(TenantHostname.hostname == sa.bindparam('host')))


def resolve_host(raw_host: str, base_domain: str) -> HostMatch | None:
    """The platform, a tenant, or None for an unknown host. One indexed lookup, no in-process cache."""
    host = normalize_host(raw_host)
    if host == base_domain:
        return HostMatch(platform=True)
    with platform_scope():
        if host.endswith('.' + base_domain):
            slug = host[: -len(base_domain) - 1]
            if '.' in slug:
                return None
            tenant = db.session.execute(_by_slug(), {'slug': slug}).scalar_one_or_none()
        else:
            tenant = db.session.execute(_by_hostname(), {'host': host}).scalar_one_or_none()
    return HostMatch(platform=False, tenant=tenant) if tenant else None
