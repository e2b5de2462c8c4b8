"""The commit is one transaction of bulk statements: a failure half-way leaves nothing, and the number of
statements hardly grows with the number of rows."""
from __future__ import annotations

import sqlalchemy as sa

from propsaas.extensions import db
from propsaas.residents import import_services
from propsaas.residents.models import ImportBatch, Resident
from tests.helpers import count_queries
from tests.imports.conftest import HEADER, batch_id_of, resident_rows, sample, upload, xlsx


def test_a_failure_mid_commit_writes_nothing(app, tenant, admin, counts, in_tenant, monkeypatch, caplog):
    batch_id = batch_id_of(upload(admin, sample('residents_messy.xlsx')))
    before = counts(tenant)
    real_insert, calls = import_services._insert, []

    def failing_insert(model, rows, returning=()):
        calls.append(model.__tablename__)
        if model.__tablename__ == 'occupancies':
            # buildings, units, rooms, their events and the residents are written by now, in this transaction
            written = db.session.execute(sa.select(sa.func.count()).select_from(Resident)).scalar_one()
            calls.append(written)
            raise RuntimeError('disk full')
        return real_insert(model, rows, returning)

    monkeypatch.setattr(import_services, '_insert', failing_insert)
    response = admin.post(f'/residents/imports/{batch_id}/commit', follow_redirects=True)
    assert response.status_code == 200
    assert calls == ['buildings', 'units', 'rooms', 'room_events', 'occupancies', 94]
    assert '导入失败，没有写入任何数据' in response.get_data(as_text=True)
    assert counts(tenant) == before
    with in_tenant(tenant) as session:
        batch = session.get(ImportBatch, batch_id)
        assert batch.status == 'failed' and batch.committed_at is None and '没有写入任何数据' in batch.error

    monkeypatch.setattr(import_services, '_insert', real_insert)  # fixed: the same batch can be imported again
    admin.post(f'/residents/imports/{batch_id}/commit')
    assert counts(tenant)['residents'] == 94 and counts(tenant)['rooms'] == 73


def commit_statements(app, admin, rows: int) -> list[str]:
    batch_id = batch_id_of(upload(admin, xlsx([HEADER] + resident_rows(rows))))
    with count_queries(app) as statements:
        response = admin.post(f'/residents/imports/{batch_id}/commit')
    assert response.status_code == 303
    return statements


def test_statements_of_a_commit_hardly_grow_with_rows(app, make_tenant, make_user, client_for):
    small_tenant, large_tenant = make_tenant(), make_tenant()
    small = commit_statements(app, client_for(small_tenant, make_user(small_tenant, 'admin')), 50)
    large = commit_statements(app, client_for(large_tenant, make_user(large_tenant, 'admin')), 500)
    inserts = [s for s in large if s.lstrip().upper().startswith('INSERT')]
    assert len(large) - len(small) <= 3, (len(small), len(large))
    assert len(inserts) <= 10  # buildings, units, rooms, room events, residents, occupancies, the job record ...
    assert len(large) < 60


def test_statements_of_the_preview_page_do_not_grow_with_rows(app, make_tenant, make_user, client_for):
    def page_statements(rows):
        tenant = make_tenant()
        client = client_for(tenant, make_user(tenant, 'admin'))
        batch_id = batch_id_of(upload(client, xlsx([HEADER] + resident_rows(rows))))
        client.get(f'/residents/imports/{batch_id}')
        with count_queries(app) as statements:
            assert client.get(f'/residents/imports/{batch_id}').status_code == 200
            assert client.get('/residents/imports').status_code == 200
        return len(statements)

    assert page_statements(2) == page_statements(25)


def test_existing_data_is_loaded_in_a_fixed_number_of_queries(app, tenant, admin, in_tenant):
    batch_id = batch_id_of(upload(admin, xlsx([HEADER] + resident_rows(30))))
    admin.post(f'/residents/imports/{batch_id}/commit')
    with in_tenant(tenant) as session, count_queries(app) as statements:
        existing = import_services.load_existing()
        session.execute(sa.select(1))
    assert len(statements) <= 6 and len(existing.rooms) == 30 and sum(map(len, existing.occupants.values())) == 30
