"""Per-request tenant: resolved from the Host before anything else runs, reset when the request ends."""
from flask import abort, current_app, g, request
from flask_babel import gettext as _
from flask_smorest import abort as api_abort

from ..auth.sessions import bind_session_to_host
from .context import reset_tenant, set_tenant
from .hosts import BadHost, resolve_host


def resolve_request_tenant():
    g.tenant, g.platform = None, False
    try:
        match = resolve_host(request.host, current_app.config['BASE_DOMAIN'])
    except BadHost:
        abort(400)
    if match is None:
        abort(404)
    if match.platform:
        g.platform = True
    else:
        if match.tenant.is_deleted:  # deleted by an operator, awaiting its purge: as good as gone
            api_abort(404, message=_('该项目已删除'), code='tenant_deleted')
        g.tenant = match.tenant
        g.tenant_token = set_tenant(match.tenant.id)
        if not match.tenant.is_active and request.endpoint != 'static':
            api_abort(403, message=_('该项目的服务已暂停，请联系物业公司'), code='tenant_suspended')
    bind_session_to_host()


def leave_request_tenant(_exc=None):
    token = g.pop('tenant_token', None)
    if token is not None:
        reset_tenant(token)


def init_tenancy(app) -> None:
    app.before_request_funcs.setdefault(None, []).insert(0, resolve_request_tenant)
    app.teardown_request(leave_request_tenant)
