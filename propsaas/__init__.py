"""PropSaaS: one Flask app serving many small property projects, each a tenant on its own subdomain."""
from __future__ import annotations

from babel import Locale
from flask import Flask, g, has_request_context, request
from flask_login import current_user

from .config import ROOT, load_config
from .extensions import babel, csrf, db, limiter, migrate


def create_app(config: dict | None = None) -> Flask:
    """Wire the app: config, extensions, tenancy, blueprints, API, CLI. Queries nothing, reaches nothing."""
    app = Flask(__name__, template_folder=str(ROOT / 'templates'), static_folder=str(ROOT / 'static'))
    app.config.update(load_config())
    app.config.update(config or {})
    init_extensions(app)
    init_tenancy(app)
    init_blueprints(app)
    init_security_headers(app)
    init_cli(app)
    init_proxy(app)
    return app


def init_proxy(app: Flask) -> None:
    """Behind PROXY_HOPS reverse proxies (nginx, a load balancer), trust that many X-Forwarded-For/-Proto values:
    the client's address is what the login, sign-up and activation throttles count and the audit log records, and
    HTTPS at the proxy makes cookies Secure. None by default, so a client can't claim another address. The Host header
    is the proxy's to pass through unchanged (projects are found by it)."""
    hops = int(app.config.get('PROXY_HOPS') or 0)
    if hops > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)


def init_extensions(app: Flask) -> None:
    from .auth.sessions import init_login
    from .errorpages import init_error_handlers

    db.init_app(app)
    with app.app_context():  # engines exist now (no connection yet): give them the RLS settings hook
        from .tenancy import rls

        rls.install(db.engine)
    migrate.init_app(app, db, directory=str(ROOT / 'migrations'), render_as_batch=True, compare_type=True,
                     render_item=render_migration_type)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    limiter.init_app(app)
    # Our only limits sit on the login views, whose decorators check them; with no default or blueprint limits
    # the check Flask-Limiter also runs before every request finds nothing, at ~10% of a page's time.
    app.before_request_funcs[None].remove(limiter._check_request_limit)
    init_login(app)
    init_error_handlers(app)


def render_migration_type(type_, obj, autogen_context):
    """Migrations name plain SQLAlchemy types, so they never import the app's code."""
    from .models_base import UTCDateTime

    if type_ == 'type' and isinstance(obj, UTCDateTime):
        return 'sa.DateTime()'
    return False


#: parsed once: babel's Locale.parse scans every known locale name on each call (a third of a request's time)
LOCALES = {code: Locale.parse(code) for code in ('zh_CN', 'en')}


def select_locale() -> Locale:
    if not has_request_context():  # CLI and jobs: the default language
        return LOCALES['zh_CN']
    code = getattr(current_user, 'locale', None) if current_user else None
    if not code:
        tenant = g.get('tenant')
        code = tenant.locale if tenant is not None else request.accept_languages.best_match(list(LOCALES))
    return LOCALES.get(code or 'zh_CN') or Locale.parse(code)


def init_tenancy(app: Flask) -> None:
    from .billing import models as _billing  # noqa: F401
    from .companies import models as _companies  # noqa: F401
    from .feedback import models as _feedback  # noqa: F401
    from .inspections import models as _inspections  # noqa: F401
    from .notices import models as _notices  # noqa: F401
    from .onboarding import models as _onboarding  # noqa: F401
    from .property import models as _property  # noqa: F401  (tables)
    from .repairs import models as _repairs  # noqa: F401
    from .residents import models as _residents  # noqa: F401
    from .tenancy import models  # noqa: F401
    from .tenancy.middleware import init_tenancy as _init

    _init(app)


def init_blueprints(app: Flask) -> None:
    from . import (
        auth,
        billing,
        companies,
        core,
        dashboard,
        feedback,
        inspections,
        jobs,
        notices,
        onboarding,
        platform,
        projectdata,
        property,
        repairs,
        reports,
        residents,
    )
    from .api import init_api
    from .auth import jobs as _auth_jobs  # noqa: F401  (registers the job)
    from .core.navigation import nav_links

    for bp in (core.bp, auth.bp, jobs.bp, platform.bp, property.bp, residents.bp, notices.bp, billing.bp,
               repairs.bp, inspections.bp, feedback.bp, onboarding.bp, projectdata.bp, companies.bp,
               companies.project_bp, reports.bp, dashboard.bp):
        app.register_blueprint(bp)
    init_api(app)

    from .auth.models import mask_mobile

    app.add_template_filter(mask_mobile)

    @app.context_processor
    def _layout():
        from flask_babel import get_locale

        user = current_user._get_current_object()
        return {'nav_links': nav_links(user), 'user': user, 'tenant': g.get('tenant'), 'get_locale': get_locale}


def init_security_headers(app: Flask) -> None:
    @app.after_request
    def _headers(response):
        response.headers.setdefault('Content-Security-Policy', "default-src 'self'; img-src 'self' data:; "
                                    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
        response.headers.setdefault('X-Content-Type-Options', 'nosniff')
        response.headers.setdefault('Referrer-Policy', 'same-origin')
        response.headers.setdefault('X-Frame-Options', 'DENY')
        if request.is_secure:
            response.headers.setdefault('Strict-Transport-Security', 'max-age=31536000; includeSubDomains')
        return response


def init_cli(app: Flask) -> None:
    from .cli import register

    register(app)
