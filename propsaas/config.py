"""Settings from the environment, with embedded defaults that need no services.

Embedded defaults: SQLite under ``instance/``, jobs run inline (no Redis), files under ``instance/files``.
The secret key comes from ``SECRET_KEY`` or is generated once into ``instance/secret_key``; there is no
literal fallback anywhere.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _instance_dir() -> Path:
    path = Path(os.environ.get('PROPSAAS_INSTANCE_DIR', ROOT / 'instance'))
    path.mkdir(parents=True, exist_ok=True)
    return path


def _secret_key(instance: Path) -> str:
    if os.environ.get('SECRET_KEY'):
        return os.environ['SECRET_KEY']
    key_file = instance / 'secret_key'
    if not key_file.exists():
        # Written once with owner-only permissions; O_EXCL so two processes starting together agree.
        try:
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, 'w') as fh:
                fh.write(secrets.token_hex(32))
    return key_file.read_text().strip()


def _database_url(instance: Path) -> str:
    return _normalize_url(os.environ.get('DATABASE_URL') or f'sqlite:///{instance / "propsaas.db"}')


def _normalize_url(url: str) -> str:
    # Heroku-style URLs name the old driver; we ship psycopg 3.
    if url.startswith('postgres://'):
        url = 'postgresql+psycopg://' + url[len('postgres://'):]
    elif url.startswith('postgresql://'):
        url = 'postgresql+psycopg://' + url[len('postgresql://'):]
    return url


def load_config() -> dict:
    instance = _instance_dir()
    redis_url = os.environ.get('REDIS_URL') or None
    return {
        'INSTANCE_DIR': str(instance),
        'SECRET_KEY': _secret_key(instance),
        'SQLALCHEMY_DATABASE_URI': _database_url(instance),
        'SQLALCHEMY_ENGINE_OPTIONS': {'pool_pre_ping': True},
        # The table owner, for migrations, where the app's role must not own the tables (PostgreSQL + RLS).
        'MIGRATION_DATABASE_URL': _normalize_url(os.environ['MIGRATION_DATABASE_URL'])
        if os.environ.get('MIGRATION_DATABASE_URL') else None,
        'REDIS_URL': redis_url,
        'BASE_DOMAIN': os.environ.get('PROPSAAS_BASE_DOMAIN', 'localhost').lower().strip('.'),
        # Reverse proxies in front of the app whose X-Forwarded-For/-Proto are trusted (0: none, the default)
        'PROXY_HOPS': int(os.environ.get('PROPSAAS_PROXY_HOPS', '0')),
        # Absolute links made outside a request (QR codes on PDF bills, payment providers' notify URLs, links in
        # messages sent by jobs): <scheme>://<slug>.<BASE_DOMAIN>[:<port>]
        'PUBLIC_URL_SCHEME': os.environ.get('PROPSAAS_PUBLIC_URL_SCHEME', 'http'),
        'PUBLIC_URL_PORT': os.environ.get('PROPSAAS_PUBLIC_URL_PORT') or None,
        'FILES_DIR': os.environ.get('PROPSAAS_FILES_DIR', str(instance / 'files')),
        'TENANT_TEMPLATES_DIR': os.environ.get('PROPSAAS_TEMPLATES_DIR', str(ROOT / 'tenants')),
        # Cookies: host-only (no Domain), HttpOnly, SameSite=Lax; Secure is decided per request (see auth.sessions).
        'SESSION_COOKIE_NAME': 'propsaas_session',
        'SESSION_COOKIE_DOMAIN': False,
        'SESSION_COOKIE_HTTPONLY': True,
        'SESSION_COOKIE_SAMESITE': 'Lax',
        'PERMANENT_SESSION_LIFETIME': 12 * 3600,
        'MAX_CONTENT_LENGTH': 20 * 1024 * 1024,
        'MAX_FORM_MEMORY_SIZE': 1024 * 1024,
        'WTF_CSRF_TIME_LIMIT': None,  # the token lives as long as the session
        'BABEL_DEFAULT_LOCALE': 'zh_CN',
        'BABEL_DEFAULT_TIMEZONE': 'Asia/Shanghai',
        'BABEL_TRANSLATION_DIRECTORIES': str(ROOT / 'propsaas' / 'translations'),
        # Failed-login throttling; counted in Redis when REDIS_URL is set so every worker shares one counter.
        'RATELIMIT_STORAGE_URI': redis_url or 'memory://',
        # Redis down must not lock everybody out: count in memory per process until it is back.
        'RATELIMIT_SWALLOW_ERRORS': True,
        'RATELIMIT_IN_MEMORY_FALLBACK_ENABLED': True,
        'RATELIMIT_KEY_PREFIX': 'propsaas-rl',
        'RATELIMIT_HEADERS_ENABLED': False,
        'LOGIN_LIMIT_PER_ACCOUNT': os.environ.get('PROPSAAS_LOGIN_LIMIT_PER_ACCOUNT', '5 per 5 minutes'),
        'LOGIN_LIMIT_PER_CLIENT': os.environ.get('PROPSAAS_LOGIN_LIMIT_PER_CLIENT', '30 per 5 minutes'),
        'API_TOKEN_DAYS': int(os.environ.get('PROPSAAS_API_TOKEN_DAYS', '30')),
        'JOB_QUEUE': os.environ.get('PROPSAAS_JOB_QUEUE', 'propsaas'),
        'JOB_TIMEOUT': int(os.environ.get('PROPSAAS_JOB_TIMEOUT', '600')),
        # A running job writes a heartbeat this often; one silent for JOB_STALE_SECONDS was interrupted.
        'JOB_HEARTBEAT_SECONDS': float(os.environ.get('PROPSAAS_JOB_HEARTBEAT_SECONDS', '10')),
        'JOB_STALE_SECONDS': float(os.environ.get('PROPSAAS_JOB_STALE_SECONDS', '60')),
        'JOB_MAX_ATTEMPTS': int(os.environ.get('PROPSAAS_JOB_MAX_ATTEMPTS', '3')),
        # Whether this worker runs the features' sweeps (scheduled announcements, held-back messages, the daily
        # payment reminders); turn it off on workers dedicated to other queues. Burst workers never sweep.
        'JOB_SWEEPS': os.environ.get('PROPSAAS_JOB_SWEEPS', '1').lower() not in ('0', 'false', 'no', 'off'),
        # Notifications: a transient failure is retried after 1, 2, 4 ... x NOTIFY_RETRY_SECONDS, at most
        # NOTIFY_MAX_ATTEMPTS times in all. The platform's SMTP server is the fallback for tenants without one.
        'NOTIFY_MAX_ATTEMPTS': int(os.environ.get('PROPSAAS_NOTIFY_MAX_ATTEMPTS', '5')),
        'NOTIFY_RETRY_SECONDS': int(os.environ.get('PROPSAAS_NOTIFY_RETRY_SECONDS', '60')),
        # 模拟支付: the built-in sandbox payment provider, for the demo and the tests. Never on in production: any
        # project admin could then 'pay' bills with it.
        'PAYMENT_SANDBOX': os.environ.get('PROPSAAS_PAYMENT_SANDBOX', '0').lower() in ('1', 'true', 'yes', 'on'),
        'SMTP_HOST': os.environ.get('PROPSAAS_SMTP_HOST'),
        'SMTP_PORT': int(os.environ.get('PROPSAAS_SMTP_PORT', '465')),
        'SMTP_USER': os.environ.get('PROPSAAS_SMTP_USER'),
        'SMTP_PASSWORD': os.environ.get('PROPSAAS_SMTP_PASSWORD'),
        'SMTP_SECURITY': os.environ.get('PROPSAAS_SMTP_SECURITY', 'ssl'),  # ssl | starttls | none
        'SMTP_FROM': os.environ.get('PROPSAAS_SMTP_FROM'),
        # Company sign-up (docs/signup.md): who lets a new company in. 'auto-if-smtp' sends an e-mail verification
        # link when the platform SMTP is configured and otherwise waits for an operator; 'email' | 'operator' force one.
        'SIGNUP_APPROVAL': os.environ.get('PROPSAAS_SIGNUP_APPROVAL', 'auto-if-smtp'),
        'SIGNUP_VERIFY_HOURS': int(os.environ.get('PROPSAAS_SIGNUP_VERIFY_HOURS', '48')),
        # PDFs (bills, print packs, the onboarding pack, label sheets): seconds one may take, and pages it may have
        'PDF_TIME_LIMIT': float(os.environ.get('PROPSAAS_PDF_TIME_LIMIT', '120')),
        'PDF_MAX_PAGES': int(os.environ.get('PROPSAAS_PDF_MAX_PAGES', '5000')),
        # Refused payment notifications (forged, stale) per address and project before 429; genuine ones never count
        'NOTIFY_REFUSED_LIMIT_PER_CLIENT': os.environ.get('PROPSAAS_NOTIFY_REFUSED_LIMIT_PER_CLIENT', '30 per minute'),
        'SIGNUP_LIMIT_PER_CLIENT': os.environ.get('PROPSAAS_SIGNUP_LIMIT_PER_CLIENT', '10 per hour'),
        'SLUG_CHECK_LIMIT_PER_CLIENT': os.environ.get('PROPSAAS_SLUG_CHECK_LIMIT_PER_CLIENT', '60 per minute'),
        # A login link from the company console into a project works once, for this many seconds.
        'LOGIN_LINK_SECONDS': int(os.environ.get('PROPSAAS_LOGIN_LINK_SECONDS', '120')),
        # Residents' activation codes (docs/onboarding.md): days a printed code works, and how many wrong tries (per
        # code or mobile, and per client address) before 「尝试次数太多」.
        'ACTIVATION_CODE_DAYS': int(os.environ.get('PROPSAAS_ACTIVATION_CODE_DAYS', '60')),
        'ACTIVATION_LIMIT': os.environ.get('PROPSAAS_ACTIVATION_LIMIT', '5 per 15 minutes'),
        'ACTIVATION_LIMIT_PER_CLIENT': os.environ.get('PROPSAAS_ACTIVATION_LIMIT_PER_CLIENT', '5 per 15 minutes'),
        # A deleted project can be restored for this many days, then every row and file of it is purged.
        'PROJECT_DELETE_GRACE_DAYS': int(os.environ.get('PROPSAAS_PROJECT_DELETE_GRACE_DAYS', '30')),
        # flask-smorest / OpenAPI
        'API_TITLE': 'PropSaaS API',
        'API_VERSION': 'v1',
        'OPENAPI_VERSION': '3.0.3',
        'OPENAPI_URL_PREFIX': '/api/v1',
        'OPENAPI_JSON_PATH': 'openapi.json',
    }
