"""Sign-up, company accounts and their sessions, the console's figures and the login links into projects.

Platform code throughout (``platform_scope()`` where a project's rows are read). Services never commit: the view
commits once at the edge, so a project, its company account and the sign-up marked done land together or not at all.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.orm import joinedload

from ..auth.models import User, hash_token, new_token
from ..auth.passwords import hash_password, password_problem, verify_password
from ..auth.services import normalize_email, normalize_mobile
from ..dashboard import figures as dashboard
from ..errors import DomainError
from ..extensions import db
from ..jobs.models import JobRecord
from ..models_base import utcnow
from ..onboarding.pack import PACK_KEY
from ..repairs.models import OPEN_STATUSES, WorkOrder
from ..tenancy import provisioning
from ..tenancy.clock import tenant_today
from ..tenancy.context import platform_scope, tenant_scope
from ..tenancy.delivery import TemplateError, list_templates
from ..tenancy.hosts import RESERVED_SLUGS, slug_problem
from ..tenancy.models import Organization, Tenant
from . import comparison
from .models import OPEN_SIGNUP_STATUSES, CompanyAccount, CompanySession, CompanySignup, ProjectLoginLink

APPROVAL_MODES = ('auto-if-smtp', 'email', 'operator')
_VERIFY_SALT = 'propsaas-company-signup'


# --- checks ------------------------------------------------------------------------------------------------------

def slug_check(slug: str) -> str | None:
    """Why ``slug`` (exactly as typed) can't be a new project's address, in the user's language; None when it can.

    The same rules as provisioning (tenancy.hosts.slug_problem) plus availability. Nothing is lowercased or trimmed:
    what is checked is what will be created."""
    slug = slug or ''
    if slug_problem(slug) is not None:
        if slug in RESERVED_SLUGS:
            return _l('“%(slug)s”是平台保留的名字，请换一个', slug=slug)
        return _l('项目网址只能用 3-40 位小写字母、数字和中间的连字符（-），例如 sunshine 或 yangguang-1')
    if provisioning.find_tenant(slug) is not None:
        return _l('“%(slug)s”已经被其他项目使用，请换一个', slug=slug)
    return None


def template_choices() -> list[tuple[str, str, str]]:
    """(folder name, title, description) of every delivery template that loads."""
    return [(name, template.title, template.description)
            for name, template, error in list_templates(provisioning.templates_root()) if template is not None]


def approval_mode() -> str:
    """'email' (a verification link is mailed) or 'operator' (an operator approves), from SIGNUP_APPROVAL."""
    config = current_app.config
    mode = config.get('SIGNUP_APPROVAL') or 'auto-if-smtp'
    if mode in ('email', 'operator'):
        return mode
    return 'email' if config.get('SMTP_HOST') and config.get('SMTP_FROM') else 'operator'


def _company_taken(company_name: str, email: str, mobile: str, *, signup_id: int | None = None) -> DomainError | None:
    """A company, e-mail or mobile already registered, or waiting in another open sign-up."""
    with platform_scope():
        if db.session.execute(sa.select(Organization.id).where(Organization.name == company_name)).first():
            return DomainError(_l('“%(name)s”已经注册过了：请直接登录企业账号，或联系平台运营人员', name=company_name),
                               field='company_name')
    if db.session.execute(sa.select(CompanyAccount.id).where(CompanyAccount.email == email)).first():
        return DomainError(_l('这个邮箱已经注册过企业账号，请直接登录'), field='email')
    if db.session.execute(sa.select(CompanyAccount.id).where(CompanyAccount.mobile == mobile)).first():
        return DomainError(_l('这个手机号已经注册过企业账号，请直接登录'), field='mobile')
    open_signups = sa.select(CompanySignup.id).where(CompanySignup.status.in_(OPEN_SIGNUP_STATUSES),
                                                     sa.or_(CompanySignup.email == email,
                                                            CompanySignup.company_name == company_name))
    if signup_id is None and db.session.execute(open_signups).first():
        return DomainError(_l('这家公司或这个邮箱已经提交过注册，正在等待邮箱验证或平台审核'), field='email')
    return None


def _project_fields(name: str, slug: str, template: str) -> str:
    name = (name or '').strip()
    if not name or len(name) > 120:
        raise DomainError(_l('请填写项目名称（不超过 120 个字）'), field='project_name')
    problem = slug_check(slug)
    if problem:
        raise DomainError(problem, field='slug')
    if template not in {choice[0] for choice in template_choices()}:
        raise DomainError(_l('请选择一个交付模板'), field='template')
    return name


# --- sign-up -----------------------------------------------------------------------------------------------------

def sign_up(*, company_name: str, contact_name: str, mobile: str, email: str, password: str, project_name: str,
            slug: str, template: str, ip: str | None) -> CompanySignup:
    """Record a sign-up (not a project yet): status 'verifying' when a verification e-mail goes out, else 'pending'
    for an operator. Raises DomainError (with the field) for anything to fix; nothing is saved then."""
    company_name = (company_name or '').strip()
    if not company_name or len(company_name) > 120:
        raise DomainError(_l('请填写公司名称（不超过 120 个字）'), field='company_name')
    contact_name = (contact_name or '').strip()
    if not contact_name or len(contact_name) > 60:
        raise DomainError(_l('请填写联系人姓名（不超过 60 个字）'), field='contact_name')
    norm_mobile = normalize_mobile(mobile)
    if not norm_mobile:
        raise DomainError(_l('请填写 11 位中国大陆手机号'), field='mobile')
    norm_email = normalize_email(email)
    if not norm_email:
        raise DomainError(_l('邮箱格式不正确'), field='email')
    problem = password_problem(password or '', login_names=(norm_email, norm_mobile))
    if problem:
        raise DomainError(problem, field='password')
    project_name = _project_fields(project_name, slug, template)
    taken = _company_taken(company_name, norm_email, norm_mobile)
    if taken:
        raise taken
    signup = CompanySignup(company_name=company_name, contact_name=contact_name, email=norm_email, mobile=norm_mobile,
                           password_hash=hash_password(password), project_name=project_name, project_slug=slug,
                           template=template, status='verifying' if approval_mode() == 'email' else 'pending',
                           ip=(ip or '')[:45] or None)
    db.session.add(signup)
    db.session.flush()
    return signup


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt=_VERIFY_SALT)


def verification_token(signup: CompanySignup) -> str:
    """Signed (the app's secret key) and bound to the sign-up and its e-mail; expires after SIGNUP_VERIFY_HOURS."""
    return _serializer().dumps({'s': signup.id, 'e': signup.email})


def signup_for_token(token: str) -> CompanySignup | None:
    """The sign-up a verification token names, if the signature holds and it has not expired; else None."""
    try:
        data = _serializer().loads(token or '', max_age=current_app.config['SIGNUP_VERIFY_HOURS'] * 3600)
    except BadSignature:  # includes SignatureExpired
        return None
    if not isinstance(data, dict) or not isinstance(data.get('s'), int):
        return None
    signup = db.session.get(CompanySignup, data['s'])
    return signup if signup is not None and signup.email == data.get('e') else None


def send_verification(signup: CompanySignup, url: str) -> bool:
    """Mail the verification link through the platform's SMTP server (the notices' 'platform' e-mail provider).
    False when it can't be sent: the sign-up then waits for an operator instead (status 'pending')."""
    from ..notices.channels import Outgoing, SendFailed, build_provider

    hours = current_app.config['SIGNUP_VERIFY_HOURS']
    title = str(_l('请验证邮箱，开通 %(project)s', project=signup.project_name))
    body = str(_l('%(name)s，您好：\n\n%(company)s 在 PropSaaS 注册了项目“%(project)s”。'
                  '请在 %(hours)s 小时内打开下面的链接确认，确认后项目立即开通，'
                  '您可以用注册时的邮箱和密码登录企业账号。\n\n%(url)s\n\n如果不是您本人操作，请忽略这封邮件。',
                  name=signup.contact_name, company=signup.company_name, project=signup.project_name, hours=hours,
                  url=url))
    outgoing = Outgoing(delivery_id=0, channel='email', address=signup.email, title=title, body=body,
                        short_text=title)
    try:
        build_provider('email', 'platform', {}).send(outgoing)
    except SendFailed as exc:
        current_app.logger.warning('sign-up %s: verification e-mail not sent: %s', signup.id, exc.reason)
        signup.status = 'pending'
        return False
    return True


def complete_signup(signup: CompanySignup, *, operator=None) -> tuple[CompanyAccount, Tenant]:
    """Create the company account and its first project from an open sign-up, and mark it done — in the caller's
    transaction. The slug and the company are checked again now (someone may have taken them meanwhile): then a
    DomainError, and the caller rolls back, nothing half-created. A sign-up is completed once (a conditional
    UPDATE claims it, so two clicks can't create two projects)."""
    claimed = db.session.execute(
        sa.update(CompanySignup).where(CompanySignup.id == signup.id,
                                       CompanySignup.status.in_(OPEN_SIGNUP_STATUSES))
        .values(status='done', decided_at=utcnow(), decided_by_id=operator.id if operator else None)
        .execution_options(synchronize_session=False))
    if claimed.rowcount != 1:
        raise DomainError(_l('这份注册已经处理过了'))
    taken = _company_taken(signup.company_name, signup.email, signup.mobile, signup_id=signup.id)
    if taken:
        raise taken
    account = CompanyAccount(contact_name=signup.contact_name, email=signup.email, mobile=signup.mobile,
                             password_hash=signup.password_hash,
                             organization=Organization(name=signup.company_name))
    db.session.add(account)
    tenant = create_project(account, name=signup.project_name, slug=signup.project_slug, template=signup.template)
    db.session.refresh(signup)
    signup.account_id, signup.project_id, signup.password_hash = account.id, tenant.id, None
    return account, tenant


def reject_signup(signup: CompanySignup, operator, reason: str) -> None:
    if signup.status not in OPEN_SIGNUP_STATUSES:
        raise DomainError(_l('这份注册已经处理过了'))
    signup.status, signup.decided_at, signup.decided_by_id = 'rejected', utcnow(), operator.id
    signup.reject_reason = (reason or '').strip()[:200] or None
    signup.password_hash = None


def open_signups() -> list[CompanySignup]:
    return db.session.execute(sa.select(CompanySignup).where(CompanySignup.status.in_(OPEN_SIGNUP_STATUSES))
                              .order_by(CompanySignup.created_at, CompanySignup.id)).scalars().all()


def recent_decided_signups(limit: int = 30) -> list[CompanySignup]:
    return db.session.execute(sa.select(CompanySignup).where(CompanySignup.status.not_in(OPEN_SIGNUP_STATUSES))
                              .order_by(CompanySignup.decided_at.desc(), CompanySignup.id.desc()).limit(limit)
                              ).scalars().all()


def open_signup_for_email(login: str) -> bool:
    email = normalize_email(login)
    return bool(email) and db.session.execute(sa.select(CompanySignup.id).where(
        CompanySignup.email == email, CompanySignup.status.in_(OPEN_SIGNUP_STATUSES))).first() is not None


# --- projects ----------------------------------------------------------------------------------------------------

def create_project(account: CompanyAccount, *, name: str, slug: str, template: str) -> Tenant:
    """A new project of the account's company from a delivery template, its first admin being the company's contact
    with the account's password (the hash is copied; the clear password is never known here). In the caller's
    transaction; DomainError for a bad or taken slug, name or template."""
    name = _project_fields(name, slug, template)
    db.session.flush()  # the account and its organization have ids
    try:
        done = provisioning.create_tenant(slug, name=name, template=template, admin_email=account.email,
                                          org=account.organization.name, admin_name=account.contact_name)
    except TemplateError as exc:
        raise DomainError(_l('交付模板有误，请联系平台：%(error)s', error=str(exc)), field='template') from None
    with tenant_scope(done.tenant.id):
        admin = db.session.execute(sa.select(User).where(User.email == account.email)).scalar_one()
        # The contact logs in on the project's host with the same password, or with the same mobile number.
        admin.password_hash = account.password_hash
        admin.mobile = account.mobile
        db.session.flush()
    return done.tenant


def company_projects(account: CompanyAccount) -> list[Tenant]:
    with platform_scope():
        return db.session.execute(sa.select(Tenant).where(Tenant.organization_id == account.organization_id,
                                                          Tenant.status != Tenant.DELETED)
                                  .order_by(Tenant.created_at, Tenant.id)).scalars().all()


def company_project(account: CompanyAccount, slug: str) -> Tenant | None:
    """The company's project named ``slug``; None for another company's project or no project at all (a 404)."""
    with platform_scope():
        return db.session.execute(sa.select(Tenant).where(Tenant.slug == slug,
                                                          Tenant.organization_id == account.organization_id,
                                                          Tenant.status != Tenant.DELETED)).scalar_one_or_none()


@dataclass
class Figures:
    """A project's key figures on the console: occupied rooms, this month's bills and what was received on them
    (fen), open work orders."""

    households: int = 0
    bills: int = 0
    receivable_fen: int = 0
    received_fen: int = 0
    open_orders: int = 0
    period: str = ''
    #: the onboarding pack's job: None (never made), or its status and whether its PDF is there to download
    pack_status: str | None = None
    pack_ready: bool = False

    @property
    def collection_rate(self) -> str | None:
        """'87.5%' (the dashboard's 收缴率), None when nothing was billed this month."""
        rate = dashboard.percent(self.received_fen, self.receivable_fen)
        return None if rate is None else f'{rate}%'


def figures(tenants: list[Tenant]) -> dict[int, Figures]:
    """Every project's figures in five statements, however many projects (grouped by project in SQL); households
    and collection as the company view (comparison.py) and the dashboard count them."""
    result = {t.id: Figures(period=tenant_today(t).strftime('%Y-%m')) for t in tenants}
    if not result:
        return result
    ids = list(result)
    with platform_scope():
        comparison.add_households(result, ids)
        comparison.add_collection(result, ids, {tenant_id: f.period for tenant_id, f in result.items()})
        for tenant_id, count in db.session.execute(
                sa.select(WorkOrder.tenant_id, sa.func.count()).where(WorkOrder.tenant_id.in_(ids),
                                                                      WorkOrder.status.in_(OPEN_STATUSES))
                .group_by(WorkOrder.tenant_id)):
            result[tenant_id].open_orders = count
        for tenant_id, status, result_file in db.session.execute(
                sa.select(JobRecord.tenant_id, JobRecord.status, JobRecord.result_file)
                .where(JobRecord.tenant_id.in_(ids), JobRecord.key == PACK_KEY)):
            result[tenant_id].pack_status = status
            result[tenant_id].pack_ready = status == JobRecord.DONE and bool(result_file)
    return result


# --- company logins ----------------------------------------------------------------------------------------------

def authenticate_company(login: str, password: str) -> CompanyAccount | None:
    """The active account with this e-mail or mobile and password, or None. Takes the same time either way."""
    mobile = normalize_mobile(login)
    where = CompanyAccount.mobile == mobile if mobile else CompanyAccount.email == normalize_email(login)
    account = db.session.execute(sa.select(CompanyAccount).where(where)).scalar_one_or_none() \
        if (mobile or normalize_email(login)) else None
    ok = verify_password(account.password_hash if account else None, password)
    return account if account is not None and ok and account.active else None


def start_company_session(account: CompanyAccount) -> str:
    raw = new_token()
    lifetime = timedelta(seconds=current_app.config['PERMANENT_SESSION_LIFETIME'])
    db.session.add(CompanySession(account=account, token_hash=hash_token(raw), expires_at=utcnow() + lifetime))
    account.last_login_at = utcnow()
    account.session_token = raw
    return raw


def account_for_token(raw: str) -> CompanyAccount | None:
    """The session loader's 'c:' kind: the account of a live session token."""
    if not raw or len(raw) > 200:
        return None
    row = db.session.execute(
        sa.select(CompanySession).options(joinedload(CompanySession.account))
        .where(CompanySession.token_hash == hash_token(raw), CompanySession.revoked_at.is_(None),
               CompanySession.expires_at > utcnow())).scalar_one_or_none()
    if row is None or not row.account.active:
        return None
    row.account.session_token = raw
    return row.account


def end_company_session(raw: str | None) -> None:
    if raw:
        db.session.execute(sa.update(CompanySession).where(CompanySession.token_hash == hash_token(raw))
                           .values(revoked_at=utcnow()))


# --- login links into a project ----------------------------------------------------------------------------------

def mint_login_link(account: CompanyAccount, tenant: Tenant) -> str:
    """A raw single-use token that logs the company's contact into ``tenant`` as its admin, for LOGIN_LINK_SECONDS.
    Only its SHA-256 is stored. DomainError when the project is suspended or the contact is no longer its admin."""
    if not tenant.is_active:
        raise DomainError(_l('项目“%(name)s”已暂停服务', name=tenant.name))
    with tenant_scope(tenant.id):
        admin = db.session.execute(sa.select(User.id).where(
            User.email == account.email, User.role == 'admin', User.active.is_(True),
            User.password_hash.is_not(None))).scalar_one_or_none()
    if admin is None:
        raise DomainError(_l('在项目“%(name)s”里找不到您（%(email)s）的管理员账号，请联系该项目的管理员',
                             name=tenant.name, email=account.email))
    raw = new_token()
    db.session.add(ProjectLoginLink(token_hash=hash_token(raw), project_id=tenant.id, account_id=account.id,
                                    user_id=admin, user_email=account.email,
                                    expires_at=utcnow() + timedelta(seconds=current_app.config['LOGIN_LINK_SECONDS'])))
    return raw


def consume_login_link(raw: str, tenant_id: int) -> User | None:
    """The admin a login link logs in on the project ``tenant_id`` (the current host), using the link up; None when
    it is unknown, used, expired or for another project. One conditional UPDATE: two requests can't both use it."""
    if not raw or len(raw) > 200:
        return None
    user_id = db.session.execute(
        sa.update(ProjectLoginLink)
        .where(ProjectLoginLink.token_hash == hash_token(raw), ProjectLoginLink.used_at.is_(None),
               ProjectLoginLink.expires_at > utcnow(), ProjectLoginLink.project_id == tenant_id)
        .values(used_at=utcnow()).returning(ProjectLoginLink.user_id)
        .execution_options(synchronize_session=False)).scalar_one_or_none()
    if user_id is None:
        return None
    user = db.session.execute(sa.select(User).where(User.id == user_id, User.role == 'admin')).scalar_one_or_none()
    return user if user is not None and user.is_active else None

