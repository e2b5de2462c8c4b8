"""Failed-login throttling, shared by the login form and the API token endpoint.

Two counters per tenant: one per account (the login typed) and one per client address. Only failed attempts
(status 401) count, so a person who logs in is never slowed down, and a flood against one account does not
lock out the others. Counted in Redis when REDIS_URL is set, so all workers share them.
"""
from flask import current_app, request

from ..extensions import limiter
from .sessions import host_key


def _typed_login() -> str:
    login = request.form.get('login')
    if login is None:
        body = request.get_json(silent=True)
        login = body.get('login') if isinstance(body, dict) else None
    return str(login or '').strip().lower()[:254]


def _account_key() -> str:
    return f'login-account:{host_key()}:{_typed_login()}'


def _client_key() -> str:
    return f'login-client:{host_key()}:{request.remote_addr}'


def _failed(response) -> bool:
    return response.status_code == 401


def throttle_failed_logins(view):
    view = limiter.limit(lambda: current_app.config['LOGIN_LIMIT_PER_ACCOUNT'], key_func=_account_key,
                         methods=['POST'], deduct_when=_failed, scope='login-account')(view)
    return limiter.limit(lambda: current_app.config['LOGIN_LIMIT_PER_CLIENT'], key_func=_client_key,
                         methods=['POST'], deduct_when=_failed, scope='login-client')(view)
