"""A project's data (issue 9 item 8): exported whole (every table as a sheet, its files, in one zip by job), deleted
with the slug typed to confirm (its host 404 at once, restorable), purged after the grace period leaving no row in
any table and no file; the other project untouched throughout."""
from __future__ import annotations

import io
import zipfile
from datetime import timedelta

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook
from pypdf import PdfReader

from propsaas import storage
from propsaas.auth.models import OperatorAction, User
from propsaas.config import load_config
from propsaas.extensions import db
from propsaas.jobs.models import JobRecord
from propsaas.jobs.queue import PROJECT_DELETED, run_job
from propsaas.models_base import utcnow
from propsaas.projectdata import deletion
from propsaas.projectdata.export import WORKBOOK_NAME, cell_value, tenant_tables
from propsaas.property.models import Building, Room
from propsaas.residents.models import Resident
from propsaas.tenancy import provisioning
from propsaas.tenancy.context import platform_scope, tenant_scope
from propsaas.tenancy.models import Tenant

PLATFORM = 'http://localhost'
MARK_A, MARK_B = 'AMARK甲', 'BMARK乙'
FORMULA = '=HYPERLINK("http://evil.example","点我")'


def _seed(tenant, mark: str) -> None:
    """Marked rows in a few tables (a room merged into another: a table pointing at itself), a custom hostname
    and two stored files."""
    with tenant_scope(tenant.id):
        building = Building(name=f'{mark}楼', note=FORMULA)
        db.session.add(building)
        db.session.flush()
        kept = Room(building_id=building.id, number='101', code=f'{mark}-101')
        db.session.add(kept)
        db.session.flush()
        db.session.add_all([Room(building_id=building.id, number='102', code=f'{mark}-102', merged_into_id=kept.id),
                            Resident(name=f'{mark}住户', mobile='13800001111', note='+1 @sum -2')])
        storage.write_atomically(f'repairs/1/{mark.lower()[:5]}.jpg', f'{mark} photo'.encode())
        storage.write_atomically('notices/attachments/a.pdf', f'{mark} pdf'.encode())
        db.session.commit()
    provisioning.add_hostname(tenant.slug, f'wuye-{tenant.slug}.example.com', 'localhost')
    db.session.commit()


@pytest.fixture
def projects(app, make_tenant):
    """(A, B): two seeded projects."""
    a, b = make_tenant(name=f'{MARK_A}花园'), make_tenant(name=f'{MARK_B}花园')
    with app.app_context():
        _seed(a, MARK_A)
        _seed(b, MARK_B)
    return a, b


def _admin_client(app, tenant, make_user, client_for, role='admin'):
    return client_for(tenant, make_user(tenant, role=role))


def _latest_export(app, tenant) -> JobRecord:
    with app.app_context(), tenant_scope(tenant.id):
        record = db.session.execute(sa.select(JobRecord).where(JobRecord.kind.like('%export_project_data'))
                                    ).scalar_one()
        db.session.expunge(record)
        return record


def _open_zip(data: bytes) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(data))


def _all_cells(book) -> list[str]:
    return [str(value) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True)
            for value in row if value is not None]


# --- export ----------------------------------------------------------------------------------------------------

def test_admin_exports_every_table_and_file_of_this_project_only(app, projects, make_user, client_for):
    a, b = projects
    admin = _admin_client(app, a, make_user, client_for)
    page = admin.get('/settings/data-export')
    assert page.status_code == 200 and '数据导出' in page.text
    started = admin.post('/settings/data-export')
    assert started.status_code == 302
    page = admin.get('/settings/data-export').text
    assert '已完成' in page and '下载数据压缩包' in page
    record = _latest_export(app, a)
    assert record.status == 'done' and record.progress == 100
    download = admin.get(f'/jobs/{record.id}/download')
    assert download.status_code == 200
    archive = _open_zip(download.data)
    download.close()
    names = archive.namelist()

    book = load_workbook(io.BytesIO(archive.read(WORKBOOK_NAME)), read_only=True)
    with app.app_context():
        expected = {table.name[:31] for table in tenant_tables()}
    assert set(book.sheetnames) == expected  # a sheet per table of the project, every one of them
    sheet = book['buildings']
    rows = list(sheet.iter_rows(values_only=True))
    header = rows[0]
    assert 'name' in header and 'tenant_id' in header  # columns by name
    assert [row[header.index('name')] for row in rows[1:]] == [f'{MARK_A}楼']
    assert {row[header.index('tenant_id')] for row in rows[1:]} == {a.id}
    cells = _all_cells(book)
    text = '\n'.join(cells)
    assert f'{MARK_A}住户' in text and f'wuye-{a.slug}.example.com' in text
    assert MARK_B not in text and b.slug not in text  # nothing of the other project, anywhere
    # Formula-safe: text that Excel would run is written with a leading quote.
    assert f"'{FORMULA}" in cells and FORMULA not in cells
    assert "'+1 @sum -2" in cells
    # Secrets never leave: password hashes read 已隐去.
    users = list(book['users'].iter_rows(values_only=True))
    assert all(row[users[0].index('password_hash')] in (None, '（已隐去）') for row in users[1:])
    assert not any(cell.startswith('$argon2') for cell in cells)

    # The stored files, as stored; not the export itself.
    assert f'files/repairs/1/{MARK_A.lower()[:5]}.jpg' in names
    assert archive.read('files/notices/attachments/a.pdf') == f'{MARK_A} pdf'.encode()
    assert not any(n.startswith('files/project-data/') for n in names)
    assert all(MARK_B.encode() not in archive.read(n) for n in names if n.startswith('files/'))
    assert '说明.txt' in names


def test_only_admins_may_export(app, projects, make_user, client_for):
    a, _b = projects
    for role in ('staff', 'resident'):
        client = _admin_client(app, a, make_user, client_for, role=role)
        assert client.get('/settings/data-export').status_code == 403
        assert client.post('/settings/data-export').status_code == 403
    assert client_for(a).get('/settings/data-export').status_code == 302  # anonymous: the login page
    with app.app_context(), tenant_scope(a.id):
        assert not db.session.execute(sa.select(JobRecord).where(JobRecord.kind.like('%export_project_data'))).first()
    assert client_for(a).get('/settings/data-export', base_url=PLATFORM).status_code == 404


def test_operator_exports_and_downloads_only_through_the_right_project(app, projects, operator, make_user,
                                                                       client_for):
    a, b = projects
    op = operator()
    listing = op.get('/operator/tenants').text
    assert f'/operator/tenants/{a.slug}/export' in listing and f'/operator/tenants/{a.slug}/data' in listing
    assert op.post(f'/operator/tenants/{a.slug}/export').status_code == 302
    record = _latest_export(app, a)
    page = op.get(f'/operator/tenants/{a.slug}/data').text
    url = f'/operator/tenants/{a.slug}/jobs/{record.id}/download'
    assert url in page
    download = op.get(url)
    assert download.status_code == 200 and WORKBOOK_NAME in _open_zip(download.data).namelist()
    download.close()
    # The record belongs to A: under B's slug it is not found; nor is another kind of A's jobs.
    assert op.get(f'/operator/tenants/{b.slug}/jobs/{record.id}/download').status_code == 404
    assert op.get('/operator/tenants/no-such-project/data').status_code == 404
    with app.app_context(), tenant_scope(a.id):
        other = JobRecord(kind='propsaas.auth.jobs.export_users', key='x', status='done', result_file='exports/x')
        db.session.add(other)
        db.session.commit()
        other_id = other.id
    assert op.get(f'/operator/tenants/{a.slug}/jobs/{other_id}/download').status_code == 404
    with app.app_context():
        actions = db.session.execute(sa.select(OperatorAction.action).where(OperatorAction.project_id == a.id)
                                     ).scalars().all()
    assert 'export' in actions
    # Not for anyone else: staff of the project, or nobody, are sent to the operator login.
    anonymous = app.test_client()
    response = anonymous.get(url, base_url=PLATFORM)
    assert response.status_code == 302 and '/operator/login' in response.headers['Location']
    assert anonymous.post(f'/operator/tenants/{a.slug}/delete', data={'confirmation': a.slug},
                          base_url=PLATFORM).status_code == 302
    with app.app_context():
        assert provisioning.find_tenant(a.slug).status == Tenant.ACTIVE


# --- delete, restore, purge ---------------------------------------------------------------------------------------

def test_operator_renders_and_downloads_a_projects_onboarding_pack(app, projects, operator):
    """交付包 from the operator console: rendered on request (inline here), downloaded as the project's PDF, logged;
    another project's slug does not reach it."""
    a, b = projects
    op = operator()
    page = op.get(f'/operator/tenants/{a.slug}/data').text
    assert '生成交付包' in page
    assert op.post(f'/operator/tenants/{a.slug}/onboarding-pack').status_code == 302
    with app.app_context(), tenant_scope(a.id):
        record = db.session.execute(sa.select(JobRecord).where(JobRecord.key == 'onboarding:pack')).scalar_one()
        assert record.status == 'done', record.error
    url = f'/operator/tenants/{a.slug}/jobs/{record.id}/download'
    assert url in op.get(f'/operator/tenants/{a.slug}/data').text
    pdf = op.get(url)
    assert pdf.status_code == 200 and pdf.mimetype == 'application/pdf'
    text = ''.join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.data)).pages)
    pdf.close()
    assert f'{MARK_A}花园' in text and MARK_B not in text
    assert op.get(f'/operator/tenants/{b.slug}/jobs/{record.id}/download').status_code == 404
    with app.app_context():
        assert db.session.execute(sa.select(OperatorAction.action).where(
            OperatorAction.project_id == a.id, OperatorAction.action == 'onboarding_pack')).first()


def test_a_wrong_slug_is_refused_and_nothing_changes(app, projects, operator):
    a, _b = projects
    op = operator()
    for typed in ('', a.slug + 'x', a.name):
        refused = op.post(f'/operator/tenants/{a.slug}/delete', data={'confirmation': typed})
        assert refused.status_code == 422
        assert '请输入项目标识' in refused.text or '不一致' in refused.text
    with app.app_context():
        assert provisioning.find_tenant(a.slug).status == Tenant.ACTIVE
    assert app.test_client().get('/', base_url=f'http://{a.slug}.localhost').status_code != 404


def test_a_deleted_projects_host_is_gone_until_restored(app, projects, operator, make_user, client_for, runner):
    a, b = projects
    admin = _admin_client(app, a, make_user, client_for)
    assert admin.get('/settings/data-export').status_code == 200
    with app.app_context(), tenant_scope(a.id):
        db.session.add(JobRecord(kind='propsaas.auth.jobs.export_users', key='waiting', status='queued'))
        db.session.commit()
    op = operator()
    deleted = op.post(f'/operator/tenants/{a.slug}/delete', data={'confirmation': f' {a.slug} '})
    assert deleted.status_code == 302
    for url in ('/', '/settings/data-export', '/api/v1/me'):
        gone = admin.get(url)
        assert gone.status_code == 404, url
    assert '该项目已删除' in admin.get('/').text
    custom = app.test_client().get('/', base_url=f'http://wuye-{a.slug}.example.com')
    assert custom.status_code == 404
    assert client_for(b).get('/login').status_code == 200  # B lives on
    listing = op.get('/operator/tenants').text
    assert '已删除' in listing and f'/operator/tenants/{a.slug}/restore' in listing
    data_page = op.get(f'/operator/tenants/{a.slug}/data')
    assert data_page.status_code == 200 and '恢复项目' in data_page.text
    with app.app_context():
        tenant = provisioning.find_tenant(a.slug)
        assert tenant.status == Tenant.DELETED
        assert timedelta(days=29) < tenant.purge_after - tenant.deleted_at <= timedelta(days=30)
        # Nothing of it runs: the sweeps' list leaves it out, its waiting job was cancelled.
        assert a.id not in [t for t, _ in provisioning.active_tenants()]
        with tenant_scope(a.id):
            waiting = db.session.execute(sa.select(JobRecord).where(JobRecord.key == 'waiting')).scalar_one()
            assert waiting.status == 'failed' and '项目已删除' in waiting.error
        actions = db.session.execute(sa.select(OperatorAction.action, OperatorAction.detail)
                                     .where(OperatorAction.project_id == a.id)).all()
        assert ('delete', a.slug) in actions
    # Deleting twice says so.
    assert op.post(f'/operator/tenants/{a.slug}/delete', data={'confirmation': a.slug}).status_code == 422
    # A job that reaches a worker after the deletion (sent just before it) does not run.
    with app.app_context(), tenant_scope(a.id):
        late = JobRecord(kind='propsaas.auth.jobs.export_users', key='late', status='queued')
        db.session.add(late)
        db.session.commit()
        run_job(late.id, a.id)
        db.session.expire_all()
        assert (late.status, late.error, late.attempts) == ('failed', PROJECT_DELETED, 0)
    # `tenants resume` can't bring it back half-way (the purge date would stay): restore it is
    resumed = runner.invoke(args=['tenants', 'resume', a.slug])
    assert resumed.exit_code == 1 and '已删除' in resumed.output

    assert op.post(f'/operator/tenants/{a.slug}/restore').status_code == 302
    assert admin.get('/settings/data-export').status_code == 200  # back, logged in as before
    with app.app_context():
        tenant = provisioning.find_tenant(a.slug)
        assert tenant.status == Tenant.ACTIVE and tenant.deleted_at is None and tenant.purge_after is None
        assert 'restore' in db.session.execute(sa.select(OperatorAction.action).where(
            OperatorAction.project_id == a.id)).scalars().all()
    restored_again = op.post(f'/operator/tenants/{a.slug}/restore')
    assert restored_again.status_code == 302  # not deleted: a message, nothing changes


def _rows_of(tenant_id: int) -> dict[str, int]:
    """Rows anywhere in the database that belong to or point at the project: every table with tenant_id, and every
    foreign key to tenants (walked from the metadata)."""
    found = {}
    with platform_scope():
        for table in db.metadata.sorted_tables:
            for column in table.c:
                points_at_tenant = any(fk.column.table.name == 'tenants' for fk in column.foreign_keys)
                if column.name == 'tenant_id' or points_at_tenant:
                    count = db.session.execute(sa.select(sa.func.count()).select_from(table)
                                               .where(column == tenant_id)).scalar()
                    if count:
                        found[f'{table.name}.{column.name}'] = count
        if db.session.get(Tenant, tenant_id) is not None:
            found['tenants'] = 1
        db.session.rollback()
    return found


def test_export_then_delete_then_purge_leaves_nothing_of_the_project(app, projects, operator, runner):
    a, b = projects
    op = operator()
    assert op.post(f'/operator/tenants/{a.slug}/export').status_code == 302
    assert _latest_export(app, a).status == 'done'
    assert op.post(f'/operator/tenants/{a.slug}/delete', data={'confirmation': a.slug}).status_code == 302
    with app.app_context():
        before_b = _rows_of(b.id)
        assert _rows_of(a.id)['users.tenant_id'] >= 1
        b_files = sorted(p.read_bytes() for p in storage.tenant_root(b.id).rglob('*') if p.is_file())
        a_root = storage.tenant_root(a.id)
    assert a_root.exists()

    # Within the grace period the purge leaves it alone: the CLI, and the workers' task.
    result = runner.invoke(args=['tenants', 'purge', '--slug', a.slug])
    assert result.exit_code == 0 and 'nothing to purge' in result.output
    with app.app_context():
        assert a.slug not in deletion.purge_expired()
        assert provisioning.find_tenant(a.slug) is not None

    result = runner.invoke(args=['tenants', 'purge', '--slug', a.slug, '--now'])
    assert result.exit_code == 0 and f'{a.slug}: purged' in result.output, result.output
    with app.app_context():
        assert _rows_of(a.id) == {}
        assert provisioning.find_tenant(a.slug) is None
        assert _rows_of(b.id) == before_b  # the other project untouched
        assert sorted(p.read_bytes() for p in storage.tenant_root(b.id).rglob('*') if p.is_file()) == b_files
        # The operators' log keeps its entries (no longer linked to the project) and says it was purged.
        log = db.session.execute(sa.select(OperatorAction.action, OperatorAction.project_id, OperatorAction.detail)
                                 .where(OperatorAction.detail.contains(a.slug))).all()
        assert {row.action for row in log} >= {'export', 'delete', 'purge'}
        assert all(row.project_id is None for row in log)
        with tenant_scope(b.id):
            assert db.session.execute(sa.select(sa.func.count()).select_from(User)).scalar() >= 1
    assert not a_root.exists()
    assert app.test_client().get('/', base_url=f'http://{a.slug}.localhost').status_code == 404
    log_page = op.get('/operator/audit').text
    assert '清除项目数据' in log_page and '删除项目' in log_page
    assert a.slug not in op.get('/operator/tenants').text
    assert client_ok(app, b)


def client_ok(app, tenant) -> bool:
    return app.test_client().get('/login', base_url=f'http://{tenant.slug}.localhost').status_code == 200


def test_the_purge_waits_for_the_grace_period_and_spares_restored_projects(app, make_tenant):
    a, b, c = make_tenant(), make_tenant(), make_tenant()
    with app.app_context():
        for tenant in (a, b):
            deletion.delete_project(tenant.slug, tenant.slug)
        db.session.commit()
        now = utcnow()
        assert a.slug not in deletion.purge_due(now=now + timedelta(days=29))
        deletion.restore_project(b.slug)
        db.session.commit()
        purged = deletion.purge_due(now=now + timedelta(days=31))
        assert a.slug in purged and b.slug not in purged and c.slug not in purged
        assert provisioning.find_tenant(a.slug) is None
        assert provisioning.find_tenant(b.slug).status == Tenant.ACTIVE
        assert provisioning.find_tenant(c.slug).status == Tenant.ACTIVE
        # An active project is never purged, even when asked for by name and --now.
        assert deletion.purge_due(c.slug, ignore_grace=True) == []
        assert deletion.purge_project(c.id, ignore_grace=True) is None


def test_grace_period_comes_from_the_configuration(app, make_tenant, monkeypatch):
    tenant = make_tenant()
    monkeypatch.setitem(app.config, 'PROJECT_DELETE_GRACE_DAYS', 7)
    with app.app_context():
        deleted = deletion.delete_project(tenant.slug, tenant.slug)
        assert deleted.purge_after - deleted.deleted_at == timedelta(days=7)
        db.session.rollback()
    monkeypatch.setenv('PROPSAAS_PROJECT_DELETE_GRACE_DAYS', '3')
    assert load_config()['PROJECT_DELETE_GRACE_DAYS'] == 3


def test_purge_cli_names_an_unknown_project(runner):
    result = runner.invoke(args=['tenants', 'purge', '--slug', 'no-such-project'])
    assert result.exit_code == 1 and 'no tenant' in result.output


def test_cells_are_formula_safe_and_settings_keep_no_secret():
    assert cell_value('=1+2') == "'=1+2" and cell_value('@A1') == "'@A1" and cell_value('正常') == '正常'
    assert cell_value(12) == 12 and cell_value(None) is None
    settings = cell_value({'host': 'smtp.qq.com', 'password': 'hunter2', 'apiv3_key': 'k' * 32,
                           'app_private_key': '-----BEGIN', 'nested': [{'access_key_secret': 's3cr3t'}]})
    assert 'smtp.qq.com' in settings
    assert not any(secret in settings for secret in ('hunter2', 'k' * 32, 'BEGIN', 's3cr3t'))
    assert cell_value('a\x00b\x07c') == 'abc'  # characters a spreadsheet can't hold are dropped
