"""Operator commands: ``flask --app wsgi tenants ...``, ``operators create``, ``worker``, ``jobs send-pending``."""
from __future__ import annotations

import json
import sys
import time

import click
from flask import current_app
from flask.cli import AppGroup

from .errors import DomainError
from .extensions import db
from .tenancy import provisioning
from .tenancy.context import tenant_scope
from .tenancy.delivery import TemplateError, list_templates

tenants_cli = AppGroup('tenants', help='Create, list, suspend and resume tenants (property projects).')
operators_cli = AppGroup('operators', help='Platform operator accounts.')
jobs_cli = AppGroup('jobs', help='Background jobs.')
notices_cli = AppGroup('notices', help='Announcements and messages to residents.')
billing_cli = AppGroup('billing', help='Bills, arrears and payment reminders.')
repairs_cli = AppGroup('repairs', help='Repair work orders.')
inspections_cli = AppGroup('inspections', help='Inspection plans, tasks and the equipment ledger.')


def tenant_url(slug: str) -> str:
    return f'http://{slug}.{current_app.config["BASE_DOMAIN"]}/'


def _fail(message: str) -> None:
    click.echo(f'error: {message}', err=True)
    sys.exit(1)


@tenants_cli.command('create')
@click.argument('slug')
@click.option('--name', required=True, help='Display name of the project, e.g. 阳光花园')
@click.option('--template', 'template', default='standard-residential', show_default=True)
@click.option('--admin-email', required=True)
@click.option('--admin-password', default=None, help='Generated and printed when omitted.')
@click.option('--org', default=None, help='Property company that owns the project (created if new).')
def create_tenant_cmd(slug, name, template, admin_email, admin_password, org):
    """Create a tenant from a delivery template with its first admin, in one transaction."""
    try:
        done = provisioning.create_tenant(slug, name=name, template=template, admin_email=admin_email,
                                          admin_password=admin_password, org=org)
        db.session.commit()
    except TemplateError as e:
        db.session.rollback()
        _fail('template is invalid:\n  ' + '\n  '.join(e.errors))
    except DomainError as e:
        db.session.rollback()
        _fail(e.message)
    click.echo(f'created tenant {done.tenant.slug} ({done.tenant.name}) from {template}')
    click.echo(f'url:      {tenant_url(done.tenant.slug)}')
    click.echo(f'admin:    {done.admin_login}')
    if done.admin_password:
        click.echo(f'password: {done.admin_password}   (generated; pass it on safely, it is not shown again)')
    _request_onboarding_pack(done.tenant.id)


def _request_onboarding_pack(tenant_id: int) -> None:
    """The new project's onboarding pack (交付包), by job: only after the commit, so the worker sees the tenant."""
    from .onboarding.pack import pack_for_new_project

    record_id = pack_for_new_project(tenant_id)
    if record_id is None:
        click.echo('onboarding pack: the queue is unavailable; the job is recorded and runs when it is back', err=True)
        return
    click.echo(f'onboarding pack: job {record_id} (download it from the project\'s 交付包 page)')


@tenants_cli.command('list')
@click.option('--json', 'as_json', is_flag=True, help='Machine-readable output.')
def list_tenants_cmd(as_json):
    """All tenants with their status."""
    rows = [{'slug': t.slug, 'name': t.name, 'status': t.status, 'template': t.template,
             'organization': t.organization.name if t.organization else None, 'url': tenant_url(t.slug),
             'created_at': t.created_at.isoformat()} for t in provisioning.list_tenants()]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo('no tenants yet: create one with `flask --app wsgi tenants create SLUG ...`')
    for row in rows:
        click.echo(f'{row["slug"]:<24} {row["status"]:<10} {row["name"]}  {row["url"]}')


def _set_status(slug: str, status: str) -> None:
    try:
        tenant = provisioning.set_status(slug, status)
    except DomainError as e:
        _fail(e.message)
    db.session.commit()
    click.echo(f'{tenant.slug}: {tenant.status}')


@tenants_cli.command('suspend')
@click.argument('slug')
def suspend_cmd(slug):
    """Suspend a tenant: its pages say the service is suspended, its API answers 403, nothing is deleted."""
    _set_status(slug, 'suspended')


@tenants_cli.command('resume')
@click.argument('slug')
def resume_cmd(slug):
    """Resume a suspended tenant."""
    _set_status(slug, 'active')


@tenants_cli.command('purge')
@click.option('--slug', default=None, help='Only this deleted project (default: every deleted one that is due).')
@click.option('--now', 'ignore_grace', is_flag=True, help='Do not wait for the grace period to end.')
def purge_cmd(slug, ignore_grace):
    """Remove every row and file of deleted projects whose grace period is over (workers do it by themselves)."""
    from .projectdata import deletion

    if slug and provisioning.find_tenant(slug.strip().lower()) is None:
        _fail(f'no tenant with slug "{slug}"')
    purged = deletion.purge_due(slug, ignore_grace=ignore_grace)
    for tenant_slug in purged:
        click.echo(f'{tenant_slug}: purged')
    if not purged:
        click.echo('nothing to purge' + ('' if ignore_grace else ' (deleted projects wait for their grace period; '
                                         '--now to purge them at once)'))


@tenants_cli.command('add-hostname')
@click.argument('slug')
@click.argument('hostname')
def add_hostname_cmd(slug, hostname):
    """Serve tenant SLUG also at HOSTNAME, a domain of its own whose DNS points here."""
    try:
        host = provisioning.add_hostname(slug, hostname, current_app.config['BASE_DOMAIN'])
        db.session.commit()
    except DomainError as e:
        db.session.rollback()
        _fail(e.message)
    click.echo(f'{slug}: now also at http://{host}/')


@tenants_cli.command('remove-hostname')
@click.argument('hostname')
def remove_hostname_cmd(hostname):
    """Stop serving a tenant at HOSTNAME."""
    try:
        provisioning.remove_hostname(hostname)
        db.session.commit()
    except DomainError as e:
        db.session.rollback()
        _fail(e.message)
    click.echo(f'{hostname}: removed')


@tenants_cli.command('templates')
def templates_cmd():
    """The delivery templates under tenants/ with their descriptions (and errors, for broken ones)."""
    for name, template, error in list_templates(provisioning.templates_root()):
        if template is not None:
            click.echo(f'{name:<24} {template.title}: {template.description}')
        else:
            click.echo(f'{name:<24} INVALID:\n    ' + '\n    '.join(error.errors))


@tenants_cli.command('save-template')
@click.argument('slug')
@click.argument('name')
def save_template_cmd(slug, name):
    """Write project SLUG's current configuration as a new delivery template tenants/NAME/ (never its residents,
    bills or other personal data)."""
    from .tenancy.save_template import save_template

    try:
        saved = save_template(slug, name)
    except TemplateError as e:
        _fail('the project\'s configuration does not make a valid template (nothing written):\n  '
              + '\n  '.join(e.errors))
    except DomainError as e:
        _fail(e.message)
    finally:
        db.session.rollback()  # read only
    sections = saved.template.sections
    click.echo(f'saved {slug} as template {name}: {saved.path}')
    click.echo(f'{len(sections["fees"]["fee_items"])} fee items, {len(sections["repairs"]["categories"])} repair '
               f'categories, {len(sections["inspections"]["plans"])} inspection plans, '
               f'{len(sections["notices"]["templates"]) + len(sections["notices"]["messages"])} message templates, '
               f'{len(sections["property"]["gates"])} gates, {len(sections["faq"]["entries"])} FAQ entries, '
               f'{len(saved.template.duties)} duties')


@tenants_cli.command('provision')
@click.argument('path', type=click.Path(exists=True, dir_okay=False))
def provision_cmd(path):
    """Create several tenants from a CSV file (one project per row); existing slugs are skipped."""
    from .tenancy.batch import provision_file

    results = provision_file(path)
    for result in results:
        click.echo(f'line {result.line:<4} {result.slug or "-":<24} {result.outcome:<8} {result.detail}')
    failed = sum(r.outcome == 'failed' for r in results)
    click.echo(f'{sum(r.outcome == "created" for r in results)} created, '
               f'{sum(r.outcome == "skipped" for r in results)} skipped, {failed} failed')
    if failed:
        sys.exit(1)


@operators_cli.command('create')
@click.argument('email')
@click.option('--name', default='')
@click.password_option(help='At least 8 characters, not a common password.')
def create_operator_cmd(email, name, password):
    """Create a platform operator (works only on the platform host)."""
    from .auth.services import create_operator

    try:
        operator = create_operator(email, name, password)
        db.session.commit()
    except DomainError as e:
        db.session.rollback()
        _fail(e.message)
    click.echo(f'operator {operator.email} created')


@jobs_cli.command('send-pending')
def send_pending_cmd():
    """Send every queued job record of every tenant to the queue again (after a Redis outage)."""
    click.echo(f'{_send_pending_everywhere()} job(s) sent to the queue')


def _send_pending_everywhere() -> int:
    from .jobs.queue import send_pending

    total = 0
    for tenant in provisioning.list_tenants():
        with tenant_scope(tenant.id):
            total += send_pending()
    return total


@notices_cli.command('sweep')
def notices_sweep_cmd():
    """Publish due scheduled announcements and send due messages (SMS held by quiet hours, retries) of every
    tenant. Workers do this on their own; run it from cron when jobs run inline (no REDIS_URL)."""
    from .notices.delivery import sweep

    done = sweep()
    click.echo(f'{done["announcements"]} announcement(s) published, {done["tenants"]} tenant(s) with messages due, '
               f'{done["interrupted"]} interrupted send(s) marked failed')


@notices_cli.command('add-templates')
@click.option('--tenant', 'slug', default=None, help='One project (default: every active project).')
def add_templates_cmd(slug):
    """Give projects the message templates their delivery template gained since they were provisioned (e.g. the
    staff messages of work orders); templates a project has, edited or not, are kept."""
    from .notices.provisioning import add_missing_templates

    _add_missing(slug, add_missing_templates)


def _add_missing(slug: str | None, add_missing, added_note: str = '') -> None:
    """``add_missing(tenant)`` in every active project (or the one named ``slug``), a transaction each; says what
    each project got. A project whose delivery template no longer loads is reported and skipped."""
    from .tenancy.models import Tenant

    try:
        tenants = provisioning.active_tenants(slug)
    except DomainError as e:
        _fail(e.message)
    for tenant_id, tenant_slug in tenants:
        with tenant_scope(tenant_id):
            try:
                added = add_missing(db.session.get(Tenant, tenant_id))
                db.session.commit()
            except TemplateError as e:
                db.session.rollback()
                click.echo(f'{tenant_slug}: template is invalid: {"; ".join(e.errors)}', err=True)
                continue
        click.echo(f'{tenant_slug}: ' + (f'added {", ".join(added)}{added_note}' if added else 'nothing to add'))


@billing_cli.command('send-reminders')
@click.option('--tenant', 'slug', default=None, help='One project (default: every active one).')
@click.option('--date', 'day', default=None, type=click.DateTime(formats=['%Y-%m-%d']),
              help="The day to act as (default: today in each project's time zone).")
def billing_send_reminders_cmd(slug, day):
    """Send the payment reminders due today (postponed on holidays; never a step twice). Workers run this once a
    day on their own; run it from cron when jobs run inline (no REDIS_URL)."""
    from .billing.dunning import send_reminders_now

    try:
        results = send_reminders_now(slug, day.date() if day else None)
    except DomainError as e:
        _fail(str(e.message))
    for tenant_slug, report in results:
        click.echo(f'{tenant_slug}: ' + ', '.join(f'{k} {v}' for k, v in report.items()))


@repairs_cli.command('sweep')
@click.option('--tenant', 'slug', default=None, help='One project (default: every active one).')
def repairs_sweep_cmd(slug):
    """Auto-confirm completed orders after N days and flag (escalate) overdue ones, once each. Workers run this
    every few minutes on their own; run it from cron when jobs run inline (no REDIS_URL)."""
    from .repairs.sweeps import sweep_now

    try:
        results = sweep_now(slug)
    except DomainError as e:
        _fail(str(e.message))
    for tenant_slug, report in results:
        click.echo(f'{tenant_slug}: ' + ', '.join(f'{k} {v}' for k, v in report.items()))


@inspections_cli.command('add-plans')
@click.option('--tenant', 'slug', default=None, help='One project (default: every active project).')
def inspections_add_plans_cmd(slug):
    """Give projects the inspection plans of their delivery template that they lack (projects provisioned before
    inspections existed have none); plans a project has, edited or not, are kept."""
    from .inspections.provisioning import add_missing_plans

    _add_missing(slug, add_missing_plans, ' (their tasks come with the next generation)')


@inspections_cli.command('generate')
@click.option('--tenant', 'slug', default=None, help='One project (default: every active project).')
@click.option('--from', 'first', default=None, help='First local day, YYYY-MM-DD (default: the project\'s today).')
@click.option('--days', default=7, show_default=True, type=click.IntRange(0, 400),
              help='Days after the first day to generate too.')
def inspections_generate_cmd(slug, first, days):
    """Flag the inspection tasks past due as missed (telling the admins), and create the tasks of the coming days
    from the plans; a re-run creates nothing new. Workers do it hourly on their own; cron it (hourly) when jobs
    run inline."""
    from datetime import date

    from .inspections.generation import generate_now

    try:
        start = date.fromisoformat(first) if first else None
    except ValueError:
        _fail(f'--from must be a date like 2026-12-01, got {first!r}')
    try:
        results = generate_now(slug, start, days)
    except DomainError as e:
        _fail(e.message)
    for tenant_slug, report in results:
        click.echo(f'{tenant_slug}: {report["created"]} task(s) created, {report["existing"]} already there '
                   f'({report["plans"]} plan(s)); {report["missed"]} missed task(s) flagged')


@click.command('worker')
@click.option('--burst', is_flag=True, help='Run the queued jobs, then exit.')
def worker_cmd(burst):
    """Run an RQ worker for this app's jobs (needs REDIS_URL)."""
    from redis.exceptions import RedisError

    from .jobs.queue import QueueUnavailable, recover_stalled_jobs
    from .jobs.worker import make_worker

    if not current_app.config.get('REDIS_URL'):
        _fail('REDIS_URL is not set: without Redis, jobs run inline and no worker is needed')
    while True:
        try:
            worker = make_worker()
            # Jobs left RUNNING by a worker that died, and records queued while Redis was away, go first.
            recovered = recover_stalled_jobs()
            sent = _send_pending_everywhere()
            if recovered or sent:
                click.echo(f'recovered {recovered} interrupted job(s), sent {sent} pending job(s)')
            worker.work(burst=burst, with_scheduler=False)
        except (RedisError, QueueUnavailable) as e:
            if burst:
                _fail(f'queue unavailable: {e}')
            click.echo(f'queue unavailable ({e}); retrying in 5 s', err=True)
            time.sleep(5)
            continue
        # RQ quits its loop on an unexpected error (e.g. Redis gone as a job ends); only a requested stop ends ours.
        if burst or worker._stop_requested:
            return
        click.echo('worker stopped unexpectedly; starting again in 5 s', err=True)
        time.sleep(5)


def register(app) -> None:
    from .demo import demo_cli

    for command in (tenants_cli, operators_cli, jobs_cli, notices_cli, billing_cli, repairs_cli, inspections_cli,
                    worker_cmd, demo_cli):
        app.cli.add_command(command)
