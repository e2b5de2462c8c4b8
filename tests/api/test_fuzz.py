"""Schemathesis against the API's own OpenAPI document, in-process (WSGI), as a tenant admin.

Every operation of /api/v1/openapi.json gets generated requests (the coverage phase's boundary and invalid
values, unexpected methods, then random ones, valid and invalid alike) on the tenant's host with the admin's
bearer token, and every response must conform to the document:

- ``not_a_server_error``: no 5xx;
- ``status_code_conformance``: the status is documented for the operation;
- ``content_type_conformance``: the Content-Type is the documented one;
- ``response_schema_conformance``: the body matches the documented schema;
- ``error_body_conformance`` (here): every 4xx body is the document's ``Error`` schema, also where the
  operation documents the status without a body (the ``@blp.alt_response`` ones), which the built-in checks
  then skip.

Note that flask-smorest gives every operation a ``default`` response (the Error schema), so
``status_code_conformance`` accepts any status; ``test_error_responses_conform`` provokes every error status
each operation's code answers with, and ``test_error_statuses_are_documented_explicitly`` requires the
document to name each of them for that operation, with the Error body.

Bounded for the suite (MAX_EXAMPLES per operation, derandomized: the same cases every run, a few seconds);
the deep run is ``scripts/fuzz``.

``DELETE /api/v1/auth/token`` revokes the token it is called with, so it gets a fresh token per call (issued
directly, no argon2): it is fuzzed like the others and the shared token stays valid for the rest of the run.
The failed-login throttle (5 per account, 30 per client per 5 minutes, then 429) would turn POST
/api/v1/auth/token into 429 after a few cases, so the fuzz run raises both limits (app.config is read per
request) and restores them afterwards; the 429 itself is checked with the shipped limits in
``test_throttled_login_conforms``.
"""
from __future__ import annotations

import os
import tempfile
import uuid
from contextlib import contextmanager

import jsonschema_rs
import pytest
import schemathesis
import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from propsaas import create_app
from propsaas.auth import services as auth_services
from propsaas.auth.models import User
from propsaas.extensions import db
from propsaas.jobs.models import JobRecord
from propsaas.tenancy import provisioning
from propsaas.tenancy.context import tenant_scope
from tests.conftest import PASSWORD

MAX_EXAMPLES = 25
OPENAPI = '/api/v1/openapi.json'
TOKEN, ME, JOBS, USERS = '/api/v1/auth/token', '/api/v1/me', '/api/v1/jobs', '/api/v1/users'
JOB, USER = '/api/v1/jobs/{job_id}', '/api/v1/users/{user_id}'
LIMIT_KEYS = ('LOGIN_LIMIT_PER_ACCOUNT', 'LOGIN_LIMIT_PER_CLIENT')
SHIPPED_LIMITS = {'LOGIN_LIMIT_PER_ACCOUNT': '5 per 5 minutes', 'LOGIN_LIMIT_PER_CLIENT': '30 per 5 minutes'}
RAISED_LIMITS = {key: '100000 per 5 minutes' for key in LIMIT_KEYS}


# --- the document --------------------------------------------------------------------------------------------

def _load_schema():
    """The document, loaded at import (collection needs the operations) from an app made for it alone.

    ``create_app`` queries nothing and reaches nothing, and the document is served on the platform host without
    a database. This app gets an in-memory SQLite URL, a throwaway instance dir and a key, so importing this
    module writes nothing into the developer's instance/. Every call goes to the ``app`` fixture instead
    (``app=`` per call); ``test_the_document_is_the_apps`` checks that both serve the same document.

    (``schemathesis.pytest.from_fixture`` would load it from the fixture, but schemathesis 4.32.5's lazy
    schema sets ``request.node._nodeid``, which pytest 9 no longer has: AttributeError.)
    """
    saved = {key: os.environ.get(key) for key in ('PROPSAAS_INSTANCE_DIR', 'SECRET_KEY')}
    with tempfile.TemporaryDirectory(prefix='propsaas-fuzz-') as tmp:
        os.environ.update(PROPSAAS_INSTANCE_DIR=tmp, SECRET_KEY='fuzz-document-only')
        try:
            doc_app = create_app({'SQLALCHEMY_DATABASE_URI': 'sqlite://', 'BASE_DOMAIN': 'localhost',
                                  'REDIS_URL': None, 'RATELIMIT_STORAGE_URI': 'memory://'})
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    return schemathesis.openapi.from_wsgi(OPENAPI, doc_app)


schema = _load_schema()


# --- the tenant ------------------------------------------------------------------------------------------------

@contextmanager
def _scope(app, tenant_id):
    with app.app_context(), tenant_scope(tenant_id):
        yield db.session
        db.session.commit()


class FuzzTenant:
    """The tenant the fuzz run works in: its host, its admin's token, rows of every kind to list and fetch."""

    def __init__(self, app, slug: str, tenant_id: int):
        self.app, self.slug, self.tenant_id = app, slug, tenant_id
        self.base_url = f'http://{slug}.localhost'
        self.token = ''
        self.tokens: dict[str, str] = {}  # role -> bearer token of an active user with that role
        self.user_ids: list[int] = []
        self.job_ids: list[int] = []

    def bearer(self, token: str | None = None) -> dict:
        return {'Authorization': f'Bearer {token or self.token}'}

    def issue_token(self, user_id: int) -> str:
        """A token as POST /auth/token issues it, without paying argon2."""
        with _scope(self.app, self.tenant_id) as session:
            raw, _ = auth_services.issue_api_token(session.get(User, user_id))
        return raw


def _fill(app, tenant_id: int, password_hash: str) -> tuple[dict[str, int], list[int], list[int]]:
    """Users of every shape (masked mobile, no e-mail, inactive, invited) and jobs in every state."""
    with _scope(app, tenant_id) as session:
        admin = session.execute(sa.select(User).where(User.role == 'admin')).scalar_one()
        resident = User(name='张三', email=None, mobile='13800138000', role='resident', duties=[], active=True,
                        password_hash=password_hash)
        staff = User(name='Staff Li', email='li@fuzz.cn', role='staff', duties=['repairs'], active=True,
                     password_hash=password_hash)
        others = [User(name='停用', email='off@fuzz.cn', role='staff', duties=[], active=False,
                       password_hash=password_hash),
                  User(name='受邀', email=None, mobile='13900139000', role='resident', duties=[], active=True,
                       password_hash=None, locale='en')]
        jobs = [
            JobRecord(kind='no.such.kind', key='k1', args=[1], status=JobRecord.QUEUED),
            JobRecord(kind='no.such.kind', key='k2', args=[], status=JobRecord.RUNNING, progress=40, attempts=1),
            JobRecord(kind='no.such.kind', key='k3', args=[], status=JobRecord.DONE, progress=100,
                      result={'rows': 3, 'nested': {'a': [1, 2]}}, result_file='x/y.pdf', attempts=1),
            JobRecord(kind='no.such.kind', key='k4', args=[], status=JobRecord.FAILED, error='坏了', attempts=3),
        ]
        session.add_all([resident, staff, *others, *jobs])
        session.flush()
        roles = {'admin': admin.id, 'staff': staff.id, 'resident': resident.id}
        return roles, [admin.id, resident.id, staff.id] + [u.id for u in others], [j.id for j in jobs]


@pytest.fixture(scope='module')
def fuzz_tenant(app, password_hash):
    slug = f'fuzz-{uuid.uuid4().hex[:8]}'
    with app.app_context():
        done = provisioning.create_tenant(slug, name='模糊测试小区', template='standard-residential',
                                          admin_email=f'admin@{slug}.cn', admin_password=PASSWORD)
        db.session.commit()
        tenant = FuzzTenant(app, slug, done.tenant.id)
    roles, tenant.user_ids, tenant.job_ids = _fill(app, tenant.tenant_id, password_hash)
    # The admin's token the way a client gets it: POST /api/v1/auth/token on the tenant's host.
    response = app.test_client().post(TOKEN, json={'login': f'admin@{slug}.cn', 'password': PASSWORD},
                                      base_url=tenant.base_url)
    assert response.status_code == 201, response.get_data(as_text=True)
    tenant.token = response.json['token']
    tenant.tokens = {role: tenant.issue_token(user_id) for role, user_id in roles.items()}
    return tenant


@contextmanager
def login_limits(app, limits: dict):
    saved = {key: app.config[key] for key in LIMIT_KEYS}
    app.config.update(limits)
    try:
        yield
    finally:
        app.config.update(saved)


@pytest.fixture(scope='module')
def login_limits_raised(app):
    with login_limits(app, RAISED_LIMITS):
        yield


# --- checks ------------------------------------------------------------------------------------------------------

def error_body_conformance(ctx, response, case):
    """Every 4xx under /api is ``{"error": {"code", "message", "fields"}}``: the document's Error schema."""
    if not 400 <= response.status_code < 500:
        return None
    document = case.operation.schema.raw_schema
    error = {**document['components']['schemas']['Error'], 'components': document['components']}
    content_type = (response.headers.get('content-type') or [''])[0]
    assert content_type.startswith('application/json'), f'{response.status_code} is not JSON: {content_type!r}'
    try:
        jsonschema_rs.Draft4Validator(error).validate(response.json())
    except jsonschema_rs.ValidationError as exc:
        raise AssertionError(f'{response.status_code} body is not the Error schema: {exc.message}') from None
    return None


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          error_body_conformance]


def call(app, tenant: FuzzTenant, case, headers: dict | None = None, **kwargs):
    return case.call(base_url=tenant.base_url, headers=headers, app=app, **kwargs)


# --- the fuzz run -----------------------------------------------------------------------------------------------

@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None, print_blob=False,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
def test_api_conforms_to_its_document(case, app, fuzz_tenant, login_limits_raised):
    headers = fuzz_tenant.bearer()
    if case.method == 'DELETE' and case.path == TOKEN:
        headers = fuzz_tenant.bearer(fuzz_tenant.issue_token(fuzz_tenant.user_ids[0]))  # it revokes this one
    case.validate_response(call(app, fuzz_tenant, case, headers), checks=CHECKS)


# --- what random data rarely reaches, checked against the same document ----------------------------------------

def test_the_document_is_the_apps(app, fuzz_tenant):
    served = app.test_client().get(OPENAPI, base_url=fuzz_tenant.base_url)
    assert served.status_code == 200
    assert served.json == schema.raw_schema


def test_issued_token_conforms(app, fuzz_tenant):
    case = schema[TOKEN]['POST'].Case(body={'login': f'admin@{fuzz_tenant.slug}.cn', 'password': PASSWORD},
                                      media_type='application/json')
    response = call(app, fuzz_tenant, case)
    assert response.status_code == 201
    case.validate_response(response, checks=CHECKS)


def test_throttled_login_conforms(app, fuzz_tenant):
    """With the shipped limits: 5 wrong passwords for one account are 401, the 6th is a documented 429."""
    case = schema[TOKEN]['POST'].Case(body={'login': f'nobody-{uuid.uuid4().hex[:6]}@fuzz.cn', 'password': 'x'},
                                      media_type='application/json')
    with login_limits(app, SHIPPED_LIMITS):
        statuses = []
        for _ in range(6):
            response = call(app, fuzz_tenant, case)
            case.validate_response(response, checks=CHECKS)
            statuses.append(response.status_code)
    assert statuses == [401] * 5 + [429]


def test_every_kind_of_row_conforms(app, fuzz_tenant):
    """Each seeded user and job, one by one and listed, as the admin; /me as every role."""
    cases = [schema[USER]['GET'].Case(path_parameters={'user_id': i}) for i in fuzz_tenant.user_ids]
    cases += [schema[JOB]['GET'].Case(path_parameters={'job_id': i}) for i in fuzz_tenant.job_ids]
    cases += [schema[USERS]['GET'].Case(query={'per_page': 100}), schema[JOBS]['GET'].Case(query={'per_page': 100})]
    for case in cases:
        response = call(app, fuzz_tenant, case, fuzz_tenant.bearer())
        assert response.status_code == 200, (case.path, response.text)
        case.validate_response(response, checks=CHECKS)
    for role, token in fuzz_tenant.tokens.items():
        case = schema[ME]['GET'].Case()
        response = call(app, fuzz_tenant, case, fuzz_tenant.bearer(token))
        assert response.status_code == 200 and response.json()['role'] == role
        case.validate_response(response, checks=CHECKS)


# Every error status each operation's own code answers with (the host checks add 400/403/404 anywhere, and
# Werkzeug 405/413: those are what `default` is for), provoked and checked by test_error_responses_conform.
ERRORS = {
    ('POST', TOKEN): (400, 401, 415, 422, 429),
    ('DELETE', TOKEN): (401,),
    ('GET', ME): (401,),
    ('GET', JOBS): (401, 403, 422),
    ('GET', JOB): (401, 403, 404),
    ('GET', USERS): (401, 403, 422),
    ('GET', USER): (401, 403, 404),
}


def _provocations(tenant: FuzzTenant, method: str, path: str):
    """(case, headers, call kwargs) for each error ``method path`` can answer with."""
    operation = schema[path][method]
    no_token, bad_token = {}, tenant.bearer('not-a-token')
    if (method, path) == ('POST', TOKEN):
        good = {'login': f'admin@{tenant.slug}.cn', 'password': PASSWORD}
        # 400. The fuzz run's first find: "fields" was ["Invalid JSON body."], a list (fixed in errorpages._fields).
        yield operation.Case(), {'Content-Type': 'application/json'}, {'data': b'\x00'}
        yield operation.Case(body={**good, 'password': 'wrong-1'}, media_type='application/json'), None, {}  # 401
        yield operation.Case(), {'Content-Type': 'application/x-www-form-urlencoded'}, {'data': 'login=a'}  # 415
        yield operation.Case(body={'login': 'a'}, media_type='application/json'), None, {}  # 422
        return  # 429: test_throttled_login_conforms
    params = {'job_id': tenant.job_ids[0]} if path == JOB else {'user_id': tenant.user_ids[0]} if path == USER else {}
    for headers in (no_token, bad_token):  # 401
        yield operation.Case(path_parameters=params), headers, {}
    if path != ME and method == 'GET':
        for role in ('staff', 'resident'):  # 403 where the role may not
            yield operation.Case(path_parameters=params), tenant.bearer(tenant.tokens[role]), {}
    if path in (JOBS, USERS):  # 422
        yield operation.Case(query={'per_page': 0}), tenant.bearer(), {}
        yield operation.Case(query={'page': 'x'}), tenant.bearer(), {}
    if path in (JOB, USER):  # 404: missing, and past the id column's range
        for missing in (10**9, 2**63):
            key = 'job_id' if path == JOB else 'user_id'
            yield operation.Case(path_parameters={key: missing}), tenant.bearer(), {}


@pytest.mark.parametrize(('method', 'path'), list(ERRORS), ids=[f'{m} {p}' for m, p in ERRORS])
def test_error_responses_conform(app, fuzz_tenant, method, path):
    seen = set()
    for case, headers, kwargs in _provocations(fuzz_tenant, method, path):
        response = call(app, fuzz_tenant, case, headers, **kwargs)
        case.validate_response(response, checks=CHECKS)
        if response.status_code >= 400:
            seen.add(response.status_code)
    if (method, path) == ('POST', TOKEN):
        seen.add(429)  # provoked in test_throttled_login_conforms
    assert seen == set(ERRORS[method, path])


def _explicitly_documented(method: str, path: str) -> dict[int, bool]:
    """status -> whether the document names it for the operation *with* the Error body (not only via default)."""
    responses = schema.raw_schema['paths'][path][method.lower()]['responses']
    named = {}
    for status, response in responses.items():
        if status.isdigit():
            if '$ref' in response:
                response = schema.raw_schema['components']['responses'][response['$ref'].rsplit('/', 1)[1]]
            body = response.get('content', {}).get('application/json', {}).get('schema', {})
            named[int(status)] = body.get('$ref') == '#/components/schemas/Error'
    return named


@pytest.mark.parametrize(('method', 'path'), list(ERRORS), ids=[f'{m} {p}' for m, p in ERRORS])
def test_error_statuses_are_documented_explicitly(method, path):
    """``default`` makes status_code_conformance accept any status: each one the operation gives must be named."""
    named = _explicitly_documented(method, path)
    lacking = {status: 'undocumented' if status not in named else 'without the Error body'
               for status in ERRORS[method, path] if not named.get(status)}
    assert not lacking, lacking

