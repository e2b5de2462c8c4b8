"""Absolute URLs on a tenant's host, for what leaves the request: a QR code on a PDF, a provider's notify URL, a
link in a message sent by a job.

Inside a request on the tenant's own host the URL is built on that host (port and custom hostname as the browser
used them; the scheme is always ``PUBLIC_URL_SCHEME``, since behind a TLS-terminating proxy the request says
http). Outside one (a job, the CLI) it is ``PUBLIC_URL_SCHEME://<slug>.<BASE_DOMAIN>[:PUBLIC_URL_PORT]``.
"""
from __future__ import annotations

from flask import current_app, g, has_request_context, request

from ..extensions import db
from .context import current_tenant_id
from .models import Tenant


def tenant_base_url(tenant: Tenant | None = None) -> str:
    """'https://sunshine.example.cn' (no trailing slash) for ``tenant`` (default: the current one)."""
    tenant = tenant or db.session.get(Tenant, current_tenant_id())
    here = getattr(g, 'tenant', None) if has_request_context() else None
    if here is not None and here.id == tenant.id:
        return f'{current_app.config["PUBLIC_URL_SCHEME"]}://{request.host}'
    config = current_app.config
    port = config.get('PUBLIC_URL_PORT')
    return f'{config["PUBLIC_URL_SCHEME"]}://{tenant.slug}.{config["BASE_DOMAIN"]}' + (f':{port}' if port else '')


def tenant_url(path: str, tenant: Tenant | None = None) -> str:
    """``path`` ('/my/bills/12/pay') made absolute on the tenant's host."""
    if not path.startswith('/'):
        raise ValueError(f'tenant_url takes an absolute path, not {path!r}')
    return tenant_base_url(tenant) + path
