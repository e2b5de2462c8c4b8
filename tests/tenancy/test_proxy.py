"""PROXY_HOPS: behind a reverse proxy the client's address comes from X-Forwarded-For (what the throttles count and
the audit log records) and HTTPS from X-Forwarded-Proto; without it, those headers are ignored, so a client can't
pick the address it is counted under."""
from __future__ import annotations

import sqlalchemy as sa

from propsaas import create_app
from propsaas.auth.models import OperatorAction
from propsaas.extensions import db
from tests.conftest import PASSWORD, CsrfClient


def operator_login_ip(some_app, operator_email: str, headers: dict) -> tuple[str, str]:
    """Log the operator in through ``some_app`` with ``headers``: (the address the audit log recorded, the session
    cookie's Set-Cookie header)."""
    client = some_app.test_client()
    response = client.post('/operator/login', data={'login': operator_email, 'password': PASSWORD},
                           base_url='http://localhost', headers=headers, environ_base={'REMOTE_ADDR': '10.0.0.9'})
    assert response.status_code == 302
    with some_app.app_context():
        ip = db.session.execute(sa.select(OperatorAction.ip).order_by(OperatorAction.id.desc())).scalars().first()
    return ip, response.headers.get('Set-Cookie', '')


def test_forwarded_headers_count_only_behind_a_configured_proxy(app, password_hash):
    from propsaas.auth.models import Operator

    with app.app_context():
        db.session.add(Operator(email='proxy-op@propsaas.cn', name='代理测试', password_hash=password_hash))
        db.session.commit()
    # (over HTTPS the CSRF check wants a same-site Referer, as a browser sends)
    forwarded = {'X-Forwarded-For': '203.0.113.7', 'X-Forwarded-Proto': 'https',
                 'Referer': 'https://localhost/operator/login'}

    ip, cookie = operator_login_ip(app, 'proxy-op@propsaas.cn', forwarded)
    assert ip == '10.0.0.9' and 'Secure' not in cookie  # no proxy configured: the headers are anybody's

    behind = create_app({**{k: app.config[k] for k in ('TESTING', 'SQLALCHEMY_DATABASE_URI', 'FILES_DIR',
                                                        'RATELIMIT_STORAGE_URI', 'BASE_DOMAIN', 'SECRET_KEY')},
                         'REDIS_URL': None, 'PROXY_HOPS': 1})
    behind.test_client_class = CsrfClient
    ip, cookie = operator_login_ip(behind, 'proxy-op@propsaas.cn', forwarded)
    assert ip == '203.0.113.7' and 'Secure' in cookie
    with behind.app_context():
        db.engine.dispose()
