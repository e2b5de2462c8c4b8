"""Sign-up, the company console and the operators' list of sign-ups (platform host); the login link's landing on a
project's host."""
import io
from functools import wraps
from urllib.parse import urlencode

from flask import (
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user, user_logged_out
from sqlalchemy.exc import IntegrityError

from ..auth.forms import LoginForm
from ..auth.sessions import mark_session_host
from ..auth.throttle import throttle_failed_logins
from ..auth.views import _safe_next, log_in
from ..errors import DomainError
from ..extensions import db, limiter
from ..jobs.queue import QueueUnavailable
from ..jobs.views import send_result_file
from ..money import format_yuan
from ..onboarding import pack
from ..onboarding.pack import pack_for_new_project
from ..platform import audit
from ..platform.views import operator_required
from ..repairs.stats import format_duration
from ..reports.common import XLSX
from ..tenancy.context import tenant_scope
from ..tenancy.guards import platform_only, tenant_only
from ..tenancy.urls import tenant_url
from . import bp, comparison, project_bp, services
from .forms import ProjectForm, RejectForm, SignupForm
from .models import SIGNUP_STATUS_NAMES, CompanyAccount, CompanySignup

platform_only(bp)
tenant_only(project_bp)


def _client_key(kind: str):
    return lambda: f'{kind}:{request.remote_addr}'


# Sign-ups and slug checks are counted per client address (all attempts, not only failed ones: a flood of
# sign-ups is the abuse). In Redis when REDIS_URL is set, like the login throttle.
throttle_signups = limiter.limit(lambda: current_app.config['SIGNUP_LIMIT_PER_CLIENT'], key_func=_client_key('signup'),
                                 methods=['POST'], scope='signup')
throttle_slug_checks = limiter.limit(lambda: current_app.config['SLUG_CHECK_LIMIT_PER_CLIENT'],
                                     key_func=_client_key('slug-check'), scope='slug-check')


def _account() -> CompanyAccount | None:
    user = current_user._get_current_object()
    return user if isinstance(user, CompanyAccount) else None


def company_required(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        if _account() is None:
            return redirect(url_for('companies.login'))
        return view(*args, **kwargs)

    return wrapper


def _with_templates(form: ProjectForm) -> ProjectForm:
    form.template.choices = [(name, title) for name, title, _description in services.template_choices()]
    return form


def _field_error(form, error: DomainError) -> None:
    field = getattr(form, error.field or '', None)
    if field is not None:
        field.errors = [*field.errors, error.message]
    else:
        flash(error.message, 'error')


# --- sign-up -----------------------------------------------------------------------------------------------------

def _render_signup(form: SignupForm, status: int = 200):
    return render_template('companies/signup.html', form=form, templates=services.template_choices(),
                           base_domain=current_app.config['BASE_DOMAIN'], mode=services.approval_mode()), status


@bp.route('/signup', methods=['GET', 'POST'])
@throttle_signups
def signup():
    form = _with_templates(SignupForm())
    if request.method == 'GET':
        return _render_signup(form)
    if not form.validate_on_submit():
        return _render_signup(form, 422)
    if form.website.data:  # the honeypot: a bot; it is told what a person would be told, and nothing is saved
        return render_template('companies/signup_done.html', mode='operator', email=form.email.data), 200
    try:
        record = services.sign_up(company_name=form.company_name.data, contact_name=form.contact_name.data,
                                  mobile=form.mobile.data, email=form.email.data, password=form.password.data,
                                  project_name=form.project_name.data, slug=form.slug.data,
                                  template=form.template.data, ip=request.remote_addr)
    except DomainError as e:
        db.session.rollback()
        _field_error(form, e)
        return _render_signup(form, e.status_code)
    if record.status == 'verifying':
        link = url_for('companies.verify', token=services.verification_token(record), _external=True,
                       _scheme=current_app.config['PUBLIC_URL_SCHEME'])
        services.send_verification(record, link)  # not sent: the sign-up waits for an operator instead
    db.session.commit()
    return render_template('companies/signup_done.html', mode=record.status, email=record.email)


@bp.get('/signup/slug')
@throttle_slug_checks
def check_slug():
    """As-you-type check of a project address: {"slug", "ok", "message", "host"} (the same checks as the POST)."""
    slug = request.args.get('slug', '')[:100]
    problem = services.slug_check(slug)
    return jsonify(slug=slug, ok=problem is None, message=str(problem) if problem else _('可以使用'),
                   host=f'{slug}.{current_app.config["BASE_DOMAIN"]}')


def _verify_page(token: str):
    record = services.signup_for_token(token)
    if record is None or record.status == 'rejected':
        return None, (render_template('companies/link_invalid.html', title=_('验证链接无效或已过期'),
                                      hint=_('请重新注册，或联系平台运营人员。')), 404)
    return record, None


@bp.route('/signup/verify/<token>', methods=['GET', 'POST'])
def verify(token):
    """The e-mail's link: shows what will be created; confirming creates the company account and its project."""
    record, invalid = _verify_page(token)
    if invalid:
        return invalid
    if record.status == 'done':
        flash(_('邮箱已验证，项目已开通，请登录企业账号'))
        return redirect(url_for('companies.login'))
    if request.method == 'GET' or record.status != 'verifying':
        return render_template('companies/verify.html', signup=record, error=None,
                               base_domain=current_app.config['BASE_DOMAIN'])
    try:
        account, tenant = services.complete_signup(record)
        db.session.flush()
    except (DomainError, IntegrityError) as e:
        db.session.rollback()
        message = e.message if isinstance(e, DomainError) else _('公司、邮箱或项目网址刚刚被占用，请重新注册')
        record, _invalid = _verify_page(token)
        return render_template('companies/verify.html', signup=record, error=message,
                               base_domain=current_app.config['BASE_DOMAIN']), 409
    _log_in_company(account)
    db.session.commit()
    pack_for_new_project(tenant.id)
    flash(_('邮箱已验证，项目“%(name)s”已开通', name=tenant.name))
    return redirect(url_for('companies.console'))


# --- company logins ------------------------------------------------------------------------------------------------

def _log_in_company(account: CompanyAccount) -> None:
    session.clear()  # a new session id for every login (no fixation)
    services.start_company_session(account)
    login_user(account)
    mark_session_host()


@user_logged_out.connect
def _end_company_session(app, user=None, **_extra):
    # Whichever logout view ends it (the page header posts to the platform's), the server-side token is revoked.
    if isinstance(user, CompanyAccount) and user.session_token:
        services.end_company_session(user.session_token)
        db.session.commit()


@bp.route('/company/login', methods=['GET', 'POST'])
@throttle_failed_logins
def login():
    form = LoginForm()
    if request.method == 'POST':
        if not form.validate_on_submit():
            return render_template('companies/login.html', form=form), 422
        account = services.authenticate_company(form.login.data, form.password.data)
        if account is None:
            form.password.errors.append(_('这个邮箱的注册还没有开通：请先点击验证邮件里的链接，或等待平台审核')
                                        if services.open_signup_for_email(form.login.data)
                                        else _('手机号/邮箱或密码不正确'))
            return render_template('companies/login.html', form=form), 401
        _log_in_company(account)
        db.session.commit()
        return redirect(url_for('companies.console'))
    if _account() is not None:
        return redirect(url_for('companies.console'))
    return render_template('companies/login.html', form=form)


@bp.post('/company/logout')
def logout():
    logout_user()  # the signal above revokes the company session
    session.clear()
    return redirect(url_for('companies.login'))


# --- the console ---------------------------------------------------------------------------------------------------

def _render_console(form: ProjectForm, status: int = 200):
    account = _account()
    projects = services.company_projects(account)
    return render_template('companies/console.html', account=account, projects=projects,
                           figures=services.figures(projects), form=form, templates=services.template_choices(),
                           base_domain=current_app.config['BASE_DOMAIN']), status


@bp.get('/company')
@company_required
def console():
    return _render_console(_with_templates(ProjectForm(formdata=None)))


@bp.post('/company/projects')
@company_required
@throttle_signups
def new_project():
    """新建项目: the company is verified or approved already, so the project is created at once."""
    form = _with_templates(ProjectForm())
    if not form.validate_on_submit():
        return _render_console(form, 422)
    try:
        tenant = services.create_project(_account(), name=form.project_name.data, slug=form.slug.data,
                                         template=form.template.data)
        db.session.flush()
    except (DomainError, IntegrityError) as e:
        db.session.rollback()
        _field_error(form, e if isinstance(e, DomainError) else DomainError(_('这个项目网址刚刚被占用，请换一个'),
                                                                             field='slug'))
        return _render_console(form, 422 if isinstance(e, DomainError) else 409)
    db.session.commit()
    pack_for_new_project(tenant.id)
    flash(_('项目“%(name)s”已开通', name=tenant.name))
    return redirect(url_for('companies.console'))


def _local_next(target: str | None) -> str | None:
    """``target`` when it is a path on the same host (auth.views._safe_next's rule), else None: ignored."""
    return target if target and _safe_next(target) == target else None


@bp.post('/company/projects/<slug>/enter')
@company_required
def enter_project(slug):
    """进入项目: a single-use login link, then off to the project's host (sessions don't cross hosts). A ``next``
    (a local path such as /dashboard, from 项目对比) rides along and is checked again on the project's host."""
    tenant = _company_project_or_404(slug)
    target = _local_next(request.form.get('next'))
    try:
        raw = services.mint_login_link(_account(), tenant)
    except DomainError as e:
        db.session.rollback()
        flash(e.message, 'error')
        return redirect(url_for('companies.comparison' if target else 'companies.console'))
    db.session.commit()
    return redirect(tenant_url(f'/login-link/{raw}' + (f'?{urlencode({"next": target})}' if target else ''), tenant))


def _company_project_or_404(slug: str):
    tenant = services.company_project(_account(), slug)
    if tenant is None:  # another company's project, or none: the same answer
        abort(404)
    return tenant


@bp.post('/company/projects/<slug>/onboarding-pack')
@company_required
def regenerate_pack(slug):
    """交付包 from the console: render the project's pack again (the earlier activation codes stop working)."""
    tenant = _company_project_or_404(slug)
    try:
        pack.request_pack_for(tenant.id)
    except QueueUnavailable as e:
        flash(e.message, 'error')
    else:
        flash(_('正在生成“%(name)s”的交付包，稍后刷新本页下载', name=tenant.name))
    return redirect(url_for('companies.console'))


@bp.get('/company/projects/<slug>/onboarding-pack')
@company_required
def download_pack(slug):
    tenant = _company_project_or_404(slug)
    with tenant_scope(tenant.id):
        return send_result_file(pack.latest_pack(), pack.render_onboarding_pack.job_spec.name)


@project_bp.get('/login-link/<token>')
def use_login_link(token):
    """A login link minted in the company console: once, in time, on its own project's host only."""
    user = services.consume_login_link(token, g.tenant.id)
    if user is None:
        db.session.commit()  # a link that named an inactive admin stays used up
        hint = _('登录链接只能使用一次，并且几分钟后失效。请回到企业账号重新点击“进入项目”，或直接登录。')
        return render_template('companies/link_invalid.html', title=_('登录链接无效或已过期'), hint=hint), 404
    log_in(user)
    db.session.commit()
    return redirect(_safe_next(request.args.get('next')))


# --- 项目对比: the company's projects side by side --------------------------------------------------------------

@bp.get('/company/figures', endpoint='comparison')
@company_required
def comparison_page():
    account = _account()
    table = comparison_figures(account)
    return render_template('companies/comparison.html', account=account, table=table, yuan=format_yuan,
                           duration=format_duration, base_domain=current_app.config['BASE_DOMAIN'])


@bp.get('/company/figures.xlsx')
@company_required
def comparison_export():
    account = _account()
    data = comparison.export_xlsx(comparison_figures(account), account.organization.name)
    return send_file(io.BytesIO(data), as_attachment=True, download_name='project-comparison.xlsx', mimetype=XLSX,
                     max_age=0)


def comparison_figures(account: CompanyAccount) -> comparison.Table:
    return comparison.compute(services.company_projects(account))


# --- operators: pending sign-ups -----------------------------------------------------------------------------------

@bp.get('/operator/signups')
@operator_required
def signups():
    """注册审核: sign-ups waiting for an operator (and for their e-mail link), then the latest decided."""
    return render_template('companies/signups.html', pending=services.open_signups(),
                           decided=services.recent_decided_signups(), statuses=SIGNUP_STATUS_NAMES,
                           form=RejectForm(formdata=None), base_domain=current_app.config['BASE_DOMAIN'])


def _signup_or_404(signup_id: int) -> CompanySignup:
    record = db.session.get(CompanySignup, signup_id)
    if record is None:
        abort(404)
    return record


@bp.post('/operator/signups/<int:signup_id>/approve')
@operator_required
def approve_signup(signup_id):
    record = _signup_or_404(signup_id)
    try:
        _account_made, tenant = services.complete_signup(record, operator=current_user)
        db.session.flush()
    except (DomainError, IntegrityError) as e:
        db.session.rollback()
        flash(e.message if isinstance(e, DomainError) else _('公司、邮箱或项目网址刚刚被占用'), 'error')
        return redirect(url_for('companies.signups'))
    audit.record(current_user, 'approve_signup', tenant_id=tenant.id, detail=f'{record.company_name} / {tenant.slug}')
    db.session.commit()
    pack_for_new_project(tenant.id)
    flash(_('已开通 %(company)s 的项目“%(name)s”', company=record.company_name, name=tenant.name))
    return redirect(url_for('companies.signups'))


@bp.post('/operator/signups/<int:signup_id>/reject')
@operator_required
def reject_signup(signup_id):
    record = _signup_or_404(signup_id)
    form = RejectForm()
    try:
        services.reject_signup(record, current_user, form.reason.data if form.validate_on_submit() else '')
    except DomainError as e:
        db.session.rollback()
        flash(e.message, 'error')
        return redirect(url_for('companies.signups'))
    audit.record(current_user, 'reject_signup', detail=f'{record.company_name} / {record.project_slug}')
    db.session.commit()
    flash(_('已拒绝 %(company)s 的注册', company=record.company_name))
    return redirect(url_for('companies.signups'))
