"""How a request is authenticated: host-only cookies bound to one tenant, revocable server-side tokens."""
from __future__ import annotations

from functools import wraps

from flask import abort, current_app, g, request, session
from flask.sessions import SecureCookieSessionInterface
from flask_login import current_user

from ..extensions import login_manager
from . import services
from .models import AccessToken

SESSION_HOST_KEY = '_host'


class HostBoundSessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie session, marked Secure whenever the request came over HTTPS."""

    def get_cookie_secure(self, app):
        return bool(app.config.get('SESSION_COOKIE_SECURE')) or (bool(request) and request.is_secure)


def host_key() -> str:
    return f't{g.tenant.id}' if g.get('tenant') else 'platform'


def bind_session_to_host() -> None:
    """A session issued for another host (tenant or platform) is treated as anonymous."""
    if SESSION_HOST_KEY in session and session[SESSION_HOST_KEY] != host_key():
        session.clear()


def mark_session_host() -> None:
    session[SESSION_HOST_KEY] = host_key()


@login_manager.user_loader
def _load_user(ident: str):
    kind, _, raw = (ident or '').partition(':')
    if kind == 'u' and g.get('tenant'):
        return services.user_for_token(raw, AccessToken.SESSION)
    if kind == 'o' and g.get('platform'):
        return services.operator_for_token(raw)
    if kind == 'c' and g.get('platform'):  # a property company's account (companies/)
        from ..companies.services import account_for_token

        return account_for_token(raw)
    return None


def init_login(app) -> None:
    login_manager.init_app(app)
    login_manager.session_protection = None  # sessions are server-side tokens, revoked on logout
    login_manager.login_view = 'auth.login'
    login_manager.login_message = None
    app.session_interface = HostBoundSessionInterface()


def require_role(*roles: str):
    """Allow only logged-in users of the current tenant with one of ``roles`` (others: login page / 403)."""

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated or not g.get('tenant'):
                return current_app.login_manager.unauthorized()
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorator


def require_staff(view):
    return require_role('admin', 'staff')(view)


def require_duty(*duties: str):
    """Allow admins, and staff with one of ``duties`` (e.g. 'service_desk'); others get the login page / 403."""

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not any(current_user.has_duty(duty) for duty in duties):
                abort(403)
            return view(*args, **kwargs)

        return require_staff(wrapper)

    return decorator
