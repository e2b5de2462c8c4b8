"""PDF bills and receipts: the print pack (one page per live bill, delivery order), per-household PDFs, what a bill
and a receipt say (read back with pypdf), the restricted url fetcher, the render time limit, re-runs replacing files,
who may download what, and constant statements.

Uses the estate of test_runs.py (1-1-101 王业主 89.50 m², 1-1-102 李邻居 120.00 m², ...).
"""
from __future__ import annotations

import io
import os
from datetime import date

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from propsaas import storage
from propsaas.billing import documents, payments
from propsaas.billing.models import Bill, BillRun, Payment
from propsaas.documents.pdf import FetchRefused, PdfRenderer, RenderError, RenderTimeout, RestrictedFetcher, static_root
from propsaas.jobs.models import JobRecord
from propsaas.jobs.queue import enqueue
from propsaas.property.models import Room, Unit
from propsaas.residents.models import Occupancy, Resident
from tests.billing.test_runs import api_token, build_estate, run_period
from tests.helpers import count_queries

pytestmark = pytest.mark.filterwarnings('ignore::DeprecationWarning')


@pytest.fixture
def estate(make_tenant, make_user, in_tenant):
    return lambda name='收费小区': build_estate(make_tenant, make_user, in_tenant, name)


def pages_of(data: bytes) -> list[str]:
    assert data.startswith(b'%PDF-')
    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]


def flat(text: str) -> str:
    return ''.join(text.split())


def _bill(in_tenant, e, code: str, period: str, space: bool = False) -> Bill:
    with in_tenant(e.tenant) as session:
        query = sa.select(Bill).where(Bill.room_id == e.rooms[code], Bill.period == period)
        query = query.where(Bill.parking_space_id.is_not(None) if space else Bill.parking_space_id.is_(None))
        bill = session.execute(query).scalar_one()
        session.expunge(bill)
        return bill


def _two_months(in_tenant, e) -> int:
    """January and February billed (nothing paid): February's bills carry January's as arrears."""
    run_period(in_tenant, e, '2026-01')
    return run_period(in_tenant, e, '2026-02')


def _job(in_tenant, e, func, run_id: int, key: str) -> JobRecord:
    with in_tenant(e.tenant) as session:
        record = enqueue(func, run_id, key=key)
        record = session.get(JobRecord, record.id)
        session.expunge(record)
        return record


# --- the print pack ------------------------------------------------------------------------------------------------

def test_print_pack_is_one_pdf_a_page_per_live_bill_in_delivery_order(app, estate, in_tenant):
    e = estate()
    run_id = _two_months(in_tenant, e)
    record = _job(in_tenant, e, documents.render_print_pack, run_id, documents.print_pack_key(run_id))
    assert record.status == JobRecord.DONE, record.error
    assert record.result_file == f'bills/2026-02/print-pack-run-{run_id}.pdf' and record.progress == 100
    with in_tenant(e.tenant) as session:
        data = storage.path_for(record.result_file).read_bytes()
        live = session.execute(sa.select(sa.func.count(Bill.id)).where(Bill.run_id == run_id,
                                                                        Bill.status != 'void')).scalar_one()
    pages = [flat(text) for text in pages_of(data)]
    assert len(pages) == live == 4 == record.result['bills']  # 101, its space, 102, 201 (103: no area; 105: March)
    # building → unit → floor → room; the space's bill after its room's
    rooms = ['1栋1单元101', '1栋1单元101B1-001', '1栋1单元102', '2栋1单元201']
    for page, room in zip(pages, rooms, strict=False):
        assert room in page, (room, page)
    feb = _bill(in_tenant, e, '1-1-101', '2026-02')
    jan = _bill(in_tenant, e, '1-1-101', '2026-01')
    first = pages[0]
    assert '收费小区' in first and feb.number in first and '2026-02' in first and '王业主' in first
    assert '89.50㎡×2.35元/㎡·月×1月=210.33元' in first  # the line and its basis
    assert jan.number in first and '往期欠费' in first  # January's room bill, unpaid: 210.33 + 180.00 rubbish
    assert '390.33' in first and '¥600.66' in first  # arrears, then this bill + arrears
    assert '陆佰元陆角陆分' in first  # 大写 of 600.66
    jan_space = _bill(in_tenant, e, '1-1-101', '2026-01', space=True)
    assert jan_space.number not in first and jan_space.number in pages[1]  # each subject its own arrears
    assert '¥120.00' in pages[1] and '壹佰贰拾元整' in pages[1]
    assert '2026-03-01' not in first and feb.due_on.isoformat() in first and feb.issued_on.isoformat() in first
    assert f'/my/bills/{feb.id}/pay' in first  # the QR's address printed under it


def test_a_rerun_replaces_the_print_pack_and_a_duplicate_while_running_is_skipped(app, estate, in_tenant):
    e = estate()
    run_id = run_period(in_tenant, e, '2026-02')
    key = documents.print_pack_key(run_id)
    first = _job(in_tenant, e, documents.render_print_pack, run_id, key)
    with in_tenant(e.tenant):
        path = storage.path_for(first.result_file)
        os.utime(path, (1, 1))
    again = _job(in_tenant, e, documents.render_print_pack, run_id, key)
    assert again.id == first.id and again.status == JobRecord.DONE and again.result_file == first.result_file
    assert path.stat().st_mtime > 1  # replaced
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temp file, no second copy
    with in_tenant(e.tenant) as session:
        assert session.execute(sa.select(sa.func.count(JobRecord.id)).where(JobRecord.key == key)).scalar_one() == 1
        session.execute(sa.update(JobRecord).where(JobRecord.id == first.id).values(status=JobRecord.RUNNING))
    running = _job(in_tenant, e, documents.render_print_pack, run_id, key)
    assert running.id == first.id and running.status == JobRecord.RUNNING  # skipped, not run twice


def test_void_bills_are_not_printed(app, estate, in_tenant):
    e = estate()
    run_id = run_period(in_tenant, e, '2026-02')
    with in_tenant(e.tenant) as session:
        session.execute(sa.update(Bill).where(Bill.room_id == e.rooms['1-1-102']).values(status='void'))
    record = _job(in_tenant, e, documents.render_print_pack, run_id, documents.print_pack_key(run_id))
    with in_tenant(e.tenant):
        pages = [flat(t) for t in pages_of(storage.path_for(record.result_file).read_bytes())]
    assert len(pages) == 3 and not any('1栋1单元102' in page for page in pages)


def test_waived_late_fee_shows_as_waived_and_the_total_is_the_bills(app, estate, in_tenant):
    e = estate()
    run_period(in_tenant, e, '2026-02')
    feb = _bill(in_tenant, e, '1-1-101', '2026-02')
    with in_tenant(e.tenant) as session:
        from propsaas.billing.models import BillLine, FeeItem
        from propsaas.models_base import utcnow

        item = session.execute(sa.select(FeeItem).where(FeeItem.charging == 'late_fee')).scalar_one_or_none()
        if item is None:
            item = FeeItem(code='late_fee_t', name='滞纳金', charging='late_fee', recurring=False, sort_order=9)
            session.add(item)
            session.flush()
        session.add(BillLine(bill_id=feb.id, fee_item_id=item.id, subject=f'room:{e.rooms["1-1-101"]}',
                             period='2026-02', description='滞纳金', amount_fen=1234,
                             basis={'formula': '本金×万分之五'},
                             waived_at=utcnow(), waive_reason='困难减免'))
        bill = session.get(Bill, feb.id)
        data = documents.render_bill(bill)
    text = flat(pages_of(data)[0])
    assert '滞纳金' in text and '12.34' in text and '困难减免' in text and '210.33' in text
    assert '222.67' not in text  # the waived fee is not counted


# --- per-household PDFs ----------------------------------------------------------------------------------------------

def test_bill_pdfs_one_file_per_bill_replaced_on_rerun(app, estate, in_tenant, monkeypatch):
    e = estate()
    run_id = _two_months(in_tenant, e)
    key = documents.bill_pdfs_key(run_id)
    monkeypatch.setattr(documents, 'BATCH', 2)  # several layout passes, pages cut out of each
    record = _job(in_tenant, e, documents.render_bill_pdfs, run_id, key)
    assert record.status == JobRecord.DONE, record.error
    assert record.result == {'bills': 4, 'failed': 0}
    with in_tenant(e.tenant) as session:
        bills = session.execute(sa.select(Bill).where(Bill.run_id == run_id)).scalars().all()
        files = {bill.number: storage.path_for(documents.bill_file_key(bill)) for bill in bills}
        folder = storage.path_for('bills/2026-02')
    for number, path in files.items():
        pages = pages_of(path.read_bytes())
        assert len(pages) == 1 and number in flat(pages[0])
    before = sorted(p.name for p in folder.iterdir())
    for path in files.values():
        os.utime(path, (1, 1))
    again = _job(in_tenant, e, documents.render_bill_pdfs, run_id, key)
    assert again.id == record.id and again.status == JobRecord.DONE
    assert sorted(p.name for p in folder.iterdir()) == before  # replaced, not duplicated
    assert all(path.stat().st_mtime > 1 for path in files.values())


def test_a_bill_that_fails_is_retried_once_reported_and_the_others_written(app, estate, in_tenant, monkeypatch):
    e = estate()
    run_id = run_period(in_tenant, e, '2026-02')
    bad = _bill(in_tenant, e, '1-1-102', '2026-02')
    real = documents.bills_html
    calls = []

    def flaky(sheets, tenant):
        if any(sheet.bill.id == bad.id for sheet in sheets):
            calls.append(len(sheets))
            raise RuntimeError('字体损坏')
        return real(sheets, tenant)

    monkeypatch.setattr(documents, 'bills_html', flaky)
    record = _job(in_tenant, e, documents.render_bill_pdfs, run_id, documents.bill_pdfs_key(run_id))
    assert record.status == JobRecord.FAILED
    assert bad.number in record.error and '字体损坏' in record.error and '其余 3 张已生成' in record.error
    assert calls == [4, 1]  # the batch, then the bill on its own once
    with in_tenant(e.tenant) as session:
        bills = session.execute(sa.select(Bill).where(Bill.run_id == run_id)).scalars().all()
        written = {bill.id: storage.path_for(documents.bill_file_key(bill)).is_file() for bill in bills}
    assert written.pop(bad.id) is False and all(written.values())


def test_print_pack_statements_do_not_grow_with_bills(app, estate, in_tenant):
    e = estate()
    run_period(in_tenant, e, '2026-01')
    small_run = run_period(in_tenant, e, '2026-02')
    with in_tenant(e.tenant) as session:
        unit = session.execute(sa.select(Unit.id).where(Unit.building_id == e.buildings['1'])).scalar()
        for n in range(15):
            room = Room(building_id=e.buildings['1'], unit_id=unit, number=f'3{n:02d}', code=f'1-1-3{n:02d}', floor=3,
                        area_m2=e_area(), billing_starts_on=date(2025, 1, 1))
            resident = Resident(name=f'业主{n}')
            session.add_all([room, resident])
            session.flush()
            session.add(Occupancy(room_id=room.id, resident_id=resident.id, role='owner'))
    run_period(in_tenant, e, '2026-03')
    big_run = run_period(in_tenant, e, '2026-04')
    counts = {}
    for run_id in (small_run, big_run):
        with in_tenant(e.tenant) as session:
            bills = session.execute(sa.select(BillRun.bill_count).where(BillRun.id == run_id)).scalar_one()
            with count_queries(app) as statements:
                documents.render_print_pack(run_id)
            counts[bills] = len(statements)
    small, big = sorted(counts)
    assert big >= small + 15 and counts[small] == counts[big], counts


def e_area():
    from decimal import Decimal

    return Decimal('70.00')


# --- the fetcher and the limits --------------------------------------------------------------------------------------

def test_fetcher_serves_static_and_this_tenants_files_only(app, estate, in_tenant, tmp_path, caplog):
    a, b = estate(), estate('乙小区')
    with in_tenant(b.tenant):
        theirs = storage.write_atomically('logos/seal.png', b'B-SECRET')
    with in_tenant(a.tenant):
        mine = storage.write_atomically('logos/seal.png', b'A-LOGO')
        link = storage.tenant_root().resolve() / 'logos' / 'out.css'
        link.symlink_to('/etc/passwd')
        fetcher = RestrictedFetcher(static_root(), a.tenant.id)
        css = static_root() / 'pdf' / 'documents.css'
        assert b'Noto Sans CJK SC' in fetcher.fetch(css.as_uri()).read()
        assert fetcher.fetch('tenant-file:logos/seal.png').read() == b'A-LOGO'
        assert fetcher.fetch(mine.as_uri()).read() == b'A-LOGO'
        assert fetcher.fetch('data:text/plain;base64,SGk=').read() == b'Hi'
        for url in ('file:///etc/passwd', 'http://127.0.0.1:5000/static/app.css', 'https://example.cn/a.png',
                    'ftp://example.cn/a', theirs.as_uri(), f'tenant-file:../{b.tenant.id}/logos/seal.png',
                    'tenant-file:logos/../../../../etc/passwd', css.as_uri() + '/../../../../etc/passwd',
                    (static_root() / '..' / 'propsaas' / 'config.py').as_uri(), link.as_uri(),
                    'tenant-file:logos/out.css', 'file://evil.example/etc/passwd', 'javascript:alert(1)'):
            with pytest.raises(FetchRefused):
                fetcher.fetch(url)
    assert 'PDF resource refused' in caplog.text and '/etc/passwd' in caplog.text


def test_a_document_pointing_outside_still_renders_without_it(app, estate, in_tenant, caplog):
    e = estate()
    with in_tenant(e.tenant):
        html = ('<p>物业费</p><img src="file:///etc/passwd"><link rel="stylesheet" href="http://127.0.0.1:9/x.css">'
                '<img src="pdf/documents.css">')
        data = PdfRenderer().write(html)
    assert '物业费' in pages_of(data)[0]
    assert 'file:///etc/passwd' in caplog.text and 'http://127.0.0.1:9/x.css' in caplog.text


def test_render_time_limit_and_page_cap(app, estate, in_tenant):
    e = estate()
    rows = ''.join(f'<tr><td>第{n}行 物业费</td><td>{n}.00</td></tr>' for n in range(4000))
    long_html = f'<table>{rows}</table>'
    with in_tenant(e.tenant):
        with pytest.raises(RenderTimeout) as info:
            PdfRenderer(time_limit=0.05).write(long_html)
        assert '时间限制' in str(info.value.message)
        with pytest.raises(RenderError) as info:
            PdfRenderer(max_pages=3).write(long_html)
        assert '上限' in str(info.value.message)
        assert PdfRenderer(time_limit=60).write('<p>一页</p>').startswith(b'%PDF-')


# --- who may download what -------------------------------------------------------------------------------------------

def test_resident_downloads_only_their_own_bill_and_receipt(app, estate, in_tenant, client_for):
    e = estate()
    run_period(in_tenant, e, '2026-02')
    mine = _bill(in_tenant, e, '1-1-101', '2026-02')
    theirs = _bill(in_tenant, e, '1-1-102', '2026-02')
    with in_tenant(e.tenant) as session:
        paid = payments.record_payment(session.get(Room, e.rooms['1-1-101']), 21033, 'cash', payer_name='王业主',
                                       by_user_id=e.cashier).id
        other = payments.record_payment(session.get(Room, e.rooms['1-1-102']), 1000, 'cash').id
    owner = client_for(e.tenant, e.owner_user)
    page = owner.get(f'/my/bills/{mine.id}')
    assert f'/my/bills/{mine.id}/pdf' in page.text
    response = owner.get(f'/my/bills/{mine.id}/pdf')
    assert response.status_code == 200 and response.mimetype == 'application/pdf'
    assert mine.number in flat(pages_of(response.data)[0])
    with in_tenant(e.tenant):
        assert storage.path_for(documents.bill_file_key(mine)).is_file()  # rendered on the spot and stored
    assert owner.get(f'/my/bills/{theirs.id}/pdf').status_code == 404
    assert owner.get('/my/bills/999999/pdf').status_code == 404
    receipt = owner.get(f'/my/payments/{paid}/receipt.pdf')
    assert receipt.status_code == 200 and receipt.mimetype == 'application/pdf'
    text = flat(pages_of(receipt.data)[0])
    assert '收款收据' in text and '王业主' in text and '210.33' in text and '贰佰壹拾元叁角叁分' in text
    assert mine.number in text and '现金' in text
    assert f'/my/payments/{paid}/receipt.pdf' in owner.get(f'/my/payments/{paid}').text
    assert owner.get(f'/my/payments/{other}/receipt.pdf').status_code == 404
    neighbour = client_for(e.tenant, e.neighbour_user)
    assert neighbour.get(f'/my/bills/{mine.id}/pdf').status_code == 404
    assert neighbour.get(f'/my/payments/{paid}/receipt.pdf').status_code == 404
    assert neighbour.get(f'/my/bills/{theirs.id}/pdf').status_code == 200
    staff = client_for(e.tenant, e.admin)
    assert staff.get(f'/my/bills/{mine.id}/pdf').status_code == 404
    assert client_for(e.tenant).get(f'/my/bills/{mine.id}/pdf').status_code in (302, 401)


def test_staff_routes_need_the_cashier_duty(app, estate, in_tenant, client_for):
    e = estate()
    run_id = run_period(in_tenant, e, '2026-02')
    bill = _bill(in_tenant, e, '1-1-101', '2026-02')
    with in_tenant(e.tenant) as session:
        paid = payments.record_payment(session.get(Room, e.rooms['1-1-101']), 5000, 'cash', by_user_id=e.cashier)
        reversal = payments.reverse(paid, '录错金额', by_user_id=e.cashier).id
        paid = paid.id
    cashier = client_for(e.tenant, e.cashier)
    assert f'/billing/bills/{bill.id}/pdf' in cashier.get(f'/billing/bills/{bill.id}').text
    response = cashier.get(f'/billing/bills/{bill.id}/pdf')
    assert response.status_code == 200 and bill.number in flat(pages_of(response.data)[0])
    assert f'/billing/payments/{paid}/receipt.pdf' in cashier.get(f'/billing/payments/{paid}').text
    text = flat(pages_of(cashier.get(f'/billing/payments/{reversal}/receipt.pdf').data)[0])
    with in_tenant(e.tenant) as session:
        numbers = dict(session.execute(sa.select(Payment.id, Payment.number)).all())
    assert '冲正收据' in text and '录错金额' in text and numbers[reversal] in text and numbers[paid] in text
    assert '50.00' in text and '伍拾元整' in text
    for user in (e.desk, e.owner_user):
        other = client_for(e.tenant, user)
        for url in (f'/billing/bills/{bill.id}/pdf', f'/billing/payments/{paid}/receipt.pdf'):
            assert other.get(url).status_code == 403, (user, url)
        assert other.post(f'/billing/runs/{run_id}/print-pack').status_code == 403
    assert cashier.get('/billing/bills/999999/pdf').status_code == 404
    assert cashier.get('/billing/payments/999999/receipt.pdf').status_code == 404


def test_run_page_starts_both_jobs_and_links_the_files(app, estate, in_tenant, client_for):
    e = estate()
    run_id = run_period(in_tenant, e, '2026-02')
    cashier = client_for(e.tenant, e.cashier)
    page = cashier.get(f'/billing/runs/{run_id}').text
    assert '生成打印包' in page and '生成每户账单PDF' in page and '尚未生成' in page
    assert cashier.post(f'/billing/runs/{run_id}/print-pack', csrf=False).status_code == 400
    started = cashier.post(f'/billing/runs/{run_id}/print-pack')
    assert started.status_code == 303 and started.headers['Location'].endswith(f'/billing/runs/{run_id}')
    assert cashier.post(f'/billing/runs/{run_id}/bill-pdfs').status_code == 303
    with in_tenant(e.tenant) as session:
        jobs = documents.run_jobs(run_id)
        pack, each = jobs['print_pack'], jobs['bill_pdfs']
        assert pack.status == each.status == JobRecord.DONE and pack.requested_by_id == e.cashier
        session.expunge_all()
    page = cashier.get(f'/billing/runs/{run_id}').text
    assert f'/jobs/{pack.id}/download' in page and f'/jobs/{pack.id}' in page and f'/jobs/{each.id}' in page
    with cashier.get(f'/jobs/{pack.id}/download') as download:
        assert download.status_code == 200 and len(pages_of(download.data)) == 4
    assert cashier.post('/billing/runs/999999/print-pack').status_code == 404


def test_api_pdfs(app, estate, in_tenant, client_for):
    e = estate()
    other = estate('乙小区')
    run_period(in_tenant, e, '2026-02')
    run_period(in_tenant, other, '2026-02')
    mine = _bill(in_tenant, e, '1-1-101', '2026-02')
    theirs = _bill(in_tenant, e, '1-1-102', '2026-02')
    foreign = _bill(in_tenant, other, '1-1-101', '2026-02')
    with in_tenant(e.tenant) as session:
        paid = payments.record_payment(session.get(Room, e.rooms['1-1-101']), 21033, 'cash').id
    client = client_for(e.tenant)
    cashier, owner = api_token(in_tenant, e, e.cashier), api_token(in_tenant, e, e.owner_user)
    response = client.get(f'/api/v1/billing/bills/{mine.id}/pdf', headers=cashier)
    assert response.status_code == 200 and response.mimetype == 'application/pdf'
    assert mine.number in flat(pages_of(response.data)[0])
    receipt = client.get(f'/api/v1/billing/payments/{paid}/receipt', headers=cashier)
    assert receipt.status_code == 200 and receipt.mimetype == 'application/pdf'
    assert client.get(f'/api/v1/billing/bills/{foreign.id}/pdf', headers=cashier).status_code == 404
    assert client.get(f'/api/v1/billing/bills/{mine.id}/pdf', headers=owner).status_code == 403
    assert client.get(f'/api/v1/me/bills/{mine.id}/pdf', headers=owner).status_code == 200
    assert client.get(f'/api/v1/me/bills/{theirs.id}/pdf', headers=owner).status_code == 404
    assert client.get(f'/api/v1/me/bills/{foreign.id}/pdf', headers=owner).status_code == 404
    assert client.get(f'/api/v1/me/payments/{paid}/receipt', headers=owner).status_code == 200
    assert client.get(f'/api/v1/me/payments/{paid}/receipt', headers=cashier).status_code == 404
    assert client.get(f'/api/v1/me/bills/{mine.id}/pdf').status_code == 401


def test_the_time_limit_waits_out_a_garbage_collector_callback_or_a_finalizer():
    """An exception raised inside a gc callback or a __del__ is swallowed: the alarm rings again just after it
    instead."""
    import gc
    import sys

    from propsaas.documents.pdf import _in_finalizer

    seen = []

    def callback(phase, info):
        seen.append(_in_finalizer(sys._getframe()))

    gc.callbacks.append(callback)
    try:
        gc.collect()
    finally:
        gc.callbacks.remove(callback)
    assert seen and all(seen)
    assert not _in_finalizer(sys._getframe())

    class Finalized:
        def __del__(self):
            seen.append(('del', _in_finalizer(sys._getframe())))

    Finalized()  # dropped at once: its __del__ runs here
    assert seen[-1] == ('del', True)
