"""Bill and receipt PDFs (缴费通知单, 收据): the monthly print pack, one PDF per household bill, receipts on demand.

    enqueue(render_print_pack, run.id, key=print_pack_key(run.id))   # ONE PDF, a page per bill, for delivery
    enqueue(render_bill_pdfs, run.id, key=bill_pdfs_key(run.id))     # bills/<period>/<bill_id>.pdf each
    bill_pdf(bill)        -> bytes   # the stored file, or rendered now and stored (portal, staff, API)
    receipt_pdf(payment)  -> bytes   # rendered once per state and cached under receipts/

What a bill shows: the project, bill number, period, room (building/unit/room, the parking space), payer, issue and
due dates, every live line with its basis (a waived late fee struck through, not counted), the room's earlier open
bills (往期欠费, periods before this one, of the same subject: a room bill lists the room's, a parking space's bill
the space's, so a household adding its pages up counts nothing twice) with their balances, what is due now (this
bill's balance + the earlier arrears) in figures and in capitals (大写), how to pay (the portal, the service desk,
``tenant.settings['contact_phone']`` when set) and a QR code opening the portal's pay page for the bill. Void bills
are not printed.

Loading is a constant number of statements whatever the number of bills: bills with rooms, buildings, units and
spaces; their lines and fee items; payers; earlier open bills; the allocations of all of them. Pages are laid out
many bills at a time (``BATCH`` per layout pass) with one ``PdfRenderer`` per job; per-household files are cut out
of the batch's document with ``document.copy(pages)``. Files are written atomically (temp name + rename), so a
re-run replaces them and readers never see half a file.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask import render_template
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload, selectinload

from .. import storage
from ..auth.models import User
from ..documents.pdf import PdfRenderer, qr_data_uri
from ..errors import DomainError
from ..extensions import db
from ..jobs.models import JobRecord
from ..jobs.queue import job, report_progress
from ..money import capital, format_yuan
from ..property.models import Room
from ..residents.models import Resident
from ..tenancy.clock import local_datetime
from ..tenancy.context import current_tenant_id
from ..tenancy.models import Tenant
from ..tenancy.urls import tenant_url
from .models import PAYMENT_METHOD_NAMES, Bill, BillLine, BillRun, Payment, PaymentAllocation
from .payments import OPEN_STATUSES, paid_by_bill

log = logging.getLogger(__name__)

#: bills laid out per WeasyPrint pass: big enough to share the font setup, small enough to report progress
BATCH = 100
KIND_NAMES = {'payment': _l('收款'), 'refund': _l('退款'), 'reversal': _l('冲正')}
_DIGITS = re.compile(r'(\d+)')


# --- keys ----------------------------------------------------------------------------------------------------------

def print_pack_key(run_id: int) -> str:
    """The job key of a run's print pack: a duplicate while it runs is skipped, a re-run replaces the file."""
    return f'billing.pdf:print-pack:{int(run_id)}'


def bill_pdfs_key(run_id: int) -> str:
    return f'billing.pdf:bills:{int(run_id)}'


def run_jobs(run_id: int) -> dict:
    """{'print_pack': JobRecord | None, 'bill_pdfs': JobRecord | None} of a run, in one statement."""
    keys = {print_pack_key(run_id): 'print_pack', bill_pdfs_key(run_id): 'bill_pdfs'}
    found = {name: None for name in keys.values()}
    for record in db.session.execute(sa.select(JobRecord).where(JobRecord.key.in_(list(keys)))).scalars():
        found[keys[record.key]] = record
    return found


def bill_file_key(bill: Bill) -> str:
    """Where one bill's PDF is stored: ``bills/<period>/<bill_id>.pdf``."""
    return f'bills/{bill.period}/{bill.id}.pdf'


def print_pack_file_key(run: BillRun) -> str:
    return f'bills/{run.period}/print-pack-run-{run.id}.pdf'


def receipt_file_key(payment: Payment) -> str:
    """A receipt per payment and state: later allocations of a prepaid remainder (预存款) make a new file."""
    return f'receipts/{payment.id}-{len(payment.allocations)}.pdf'


# --- loading -------------------------------------------------------------------------------------------------------

def _natural(text: str | None) -> tuple:
    return tuple(int(part) if part.isdigit() else part for part in _DIGITS.split(text or ''))


def delivery_order(bill: Bill) -> tuple:
    """Building → unit → floor → room number (numbers compared as numbers), then the parking space, then the id."""
    room = bill.room
    if room is None:
        return (1, (), (), 0, (), bill.parking_space.code if bill.parking_space else '', bill.id)
    building, unit = room.building, room.unit
    return (0, (building.sort_order, _natural(building.name)) if building else (),
            (unit.sort_order, _natural(unit.name)) if unit else (), room.floor or 0, _natural(room.number),
            bill.parking_space.code if bill.parking_space else '', bill.id)


def load_bills(query) -> list[Bill]:
    """The live bills ``query`` (a select of Bill) finds, with what a sheet shows, in delivery order."""
    query = query.where(Bill.status != 'void').options(
        joinedload(Bill.room).joinedload(Room.building), joinedload(Bill.room).joinedload(Room.unit),
        joinedload(Bill.parking_space), selectinload(Bill.lines).joinedload(BillLine.fee_item))
    bills = list(db.session.execute(query).unique().scalars())
    return sorted(bills, key=delivery_order)


@dataclass
class BillSheet:
    """One bill as printed: its lines, earlier arrears and what is due now."""

    bill: Bill
    place: str
    payer_name: str | None
    lines: list
    paid_fen: int
    arrears: list = field(default_factory=list)  # [(bill, balance_fen)], oldest first
    pay_url: str = ''
    qr: str = ''

    @property
    def balance_fen(self) -> int:
        return int(self.bill.total_fen) - self.paid_fen

    @property
    def arrears_fen(self) -> int:
        return sum(owed for _bill, owed in self.arrears)

    @property
    def due_fen(self) -> int:
        return self.balance_fen + self.arrears_fen

    @property
    def capital(self) -> str:
        return capital(self.due_fen)


def _place(bill: Bill) -> str:
    from .bills import place

    return place(bill)


def sheets(bills: list[Bill], tenant: Tenant) -> list[BillSheet]:
    """Sheets for ``bills`` (loaded by ``load_bills``) in four statements whatever their number."""
    payer_ids = {bill.payer_resident_id for bill in bills if bill.payer_resident_id is not None}
    names = dict(db.session.execute(sa.select(Resident.id, Resident.name).where(Resident.id.in_(payer_ids))).all()) \
        if payer_ids else {}
    room_ids = {bill.room_id for bill in bills if bill.room_id is not None}
    latest = max((bill.period for bill in bills), default='')
    older: list[Bill] = []
    if room_ids:
        older = list(db.session.execute(
            sa.select(Bill).where(Bill.room_id.in_(room_ids), Bill.status.in_(OPEN_STATUSES),
                                  Bill.period < latest).order_by(Bill.due_on, Bill.id)).scalars())
    paid = paid_by_bill({bill.id for bill in bills} | {bill.id for bill in older})
    by_room: dict[int, list[Bill]] = {}
    for old in older:
        by_room.setdefault(old.room_id, []).append(old)
    out = []
    for bill in bills:
        # the same subject's earlier bills: a room's and its parking space's arrears are printed once each
        arrears = [(old, int(old.total_fen) - paid.get(old.id, 0)) for old in by_room.get(bill.room_id, ())
                   if old.period < bill.period and old.parking_space_id == bill.parking_space_id]
        url = tenant_url(f'/my/bills/{bill.id}/pay', tenant)
        out.append(BillSheet(bill=bill, place=_place(bill), payer_name=names.get(bill.payer_resident_id),
                             lines=[line for line in bill.lines if not line.voided], paid_fen=paid.get(bill.id, 0),
                             arrears=[(old, owed) for old, owed in arrears if owed > 0], pay_url=url,
                             qr=qr_data_uri(url)))
    return out


def bills_html(bill_sheets: list[BillSheet], tenant: Tenant) -> str:
    """The HTML of a document with one page per sheet."""
    return render_template('billing/pdf/bill.html', sheets=bill_sheets, tenant_name=tenant.name,
                           phone=(tenant.settings or {}).get('contact_phone'), yuan=format_yuan)


def _tenant() -> Tenant:
    return db.session.get(Tenant, current_tenant_id())


def _run(run_id: int) -> BillRun:
    run = db.session.execute(sa.select(BillRun).where(BillRun.id == run_id)).scalar_one_or_none()
    if run is None:
        raise DomainError(_l('出账记录不存在'))
    return run


def run_bills_query(run_id: int):
    return sa.select(Bill).where(Bill.run_id == run_id)


# --- pages of a rendered batch -------------------------------------------------------------------------------------

def pages_by_bill(document) -> dict[int, list]:
    """The pages of each bill in a rendered batch, found by the ``bill-<id>`` anchor every sheet carries (a bill
    with many lines runs over several pages)."""
    out: dict[int, list] = {}
    current = None
    for page in document.pages:
        ids = [int(name[5:]) for name in page.anchors if name.startswith('bill-') and name[5:].isdigit()]
        if ids:
            current = ids[0]
        if current is not None:
            out.setdefault(current, []).append(page)
    return out


# --- jobs ----------------------------------------------------------------------------------------------------------

@job(_l('生成打印包（账单PDF）'))
def render_print_pack(run_id: int) -> dict:
    """ONE PDF of a run's live bills, a page per household in delivery order (building → unit → floor → room), for
    door-to-door delivery. Written atomically at ``bills/<period>/print-pack-run-<id>.pdf``; a re-run replaces it."""
    run = _run(run_id)
    tenant = _tenant()
    renderer = PdfRenderer()
    report_progress(5)
    bill_sheets = sheets(load_bills(run_bills_query(run.id)), tenant)
    if not bill_sheets:
        raise DomainError(_l('这次出账没有可打印的账单（账单都已作废或尚未生成）'))
    report_progress(15)
    documents = []
    for start in range(0, len(bill_sheets), BATCH):
        documents.append(renderer.render(bills_html(bill_sheets[start:start + BATCH], tenant)))
        report_progress(15 + 70 * min(start + BATCH, len(bill_sheets)) // len(bill_sheets))
    document = documents[0]
    if len(documents) > 1:
        document = document.copy([page for doc in documents for page in doc.pages])
    data = renderer.write_document(document)
    key = print_pack_file_key(run)
    storage.write_atomically(key, data)
    report_progress(99)
    return {'file': key, 'bills': len(bill_sheets), 'pages': len(document.pages)}


@job(_l('生成每户账单PDF'))
def render_bill_pdfs(run_id: int) -> dict:
    """One PDF per live bill of a run at ``bills/<period>/<bill_id>.pdf``, each replaced atomically.

    Bills are laid out ``BATCH`` at a time and each bill's pages cut out of the batch. A batch that fails is
    retried bill by bill; a bill that still fails is reported, the others are written, and the job ends failed
    with the bill numbers and reasons.
    """
    run = _run(run_id)
    tenant = _tenant()
    renderer = PdfRenderer()
    report_progress(5)
    bill_sheets = sheets(load_bills(run_bills_query(run.id)), tenant)
    written, failures = 0, {}
    for start in range(0, len(bill_sheets), BATCH):
        batch = bill_sheets[start:start + BATCH]
        try:
            document = renderer.render(bills_html(batch, tenant))
            pages = pages_by_bill(document)
        except Exception as exc:  # retried bill by bill below
            log.warning('run %s: a batch of %s bills failed to render (%s); retrying each', run_id, len(batch), exc)
            document, pages = None, {}
        for sheet in batch:
            try:
                if sheet.bill.id in pages:
                    data = _write_pages(renderer, document.copy(pages[sheet.bill.id]), sheet, tenant)
                else:
                    data = renderer.write(bills_html([sheet], tenant))
                storage.write_atomically(bill_file_key(sheet.bill), data)
                written += 1
            except Exception as exc:
                failures[sheet.bill.number] = _reason(exc)
                log.exception('run %s: bill %s failed to render', run_id, sheet.bill.number)
        report_progress(5 + 94 * min(start + BATCH, len(bill_sheets)) // max(len(bill_sheets), 1))
    if failures:
        listed = '；'.join(f'{number}（{reason}）' for number, reason in list(failures.items())[:20])
        raise DomainError(_l('%(n)s 张账单未能生成PDF：%(bills)s；其余 %(ok)s 张已生成',
                             n=len(failures), bills=listed, ok=written))
    return {'bills': written, 'failed': 0}


def _write_pages(renderer: PdfRenderer, document, sheet: BillSheet, tenant: Tenant) -> bytes:
    """The bill's own pages cut out of its batch; rendered again on its own when that fails (the one retry)."""
    try:
        return renderer.write_document(document)
    except Exception as exc:
        log.warning('bill %s: writing its pages failed (%s); rendering it on its own', sheet.bill.number, exc)
        return renderer.write(bills_html([sheet], tenant))


def _reason(exc: Exception) -> str:
    if isinstance(exc, DomainError):
        return str(exc.message)
    return f'{type(exc).__name__}: {exc}'[:200]


# --- on demand -----------------------------------------------------------------------------------------------------

def render_bill(bill: Bill) -> bytes:
    """One bill rendered now (and stored at its key, replacing what was there)."""
    if bill.status == 'void':
        raise DomainError(_l('作废的账单不能打印'))
    tenant = _tenant()
    found = load_bills(sa.select(Bill).where(Bill.id == bill.id))
    data = PdfRenderer().write(bills_html(sheets(found, tenant), tenant))
    storage.write_atomically(bill_file_key(bill), data)
    return data


def bill_pdf(bill: Bill) -> bytes:
    """The bill's stored PDF (made by ``render_bill_pdfs``), or rendered and stored now when there is none."""
    if bill.status == 'void':
        raise DomainError(_l('作废的账单不能打印'))
    path = storage.path_for(bill_file_key(bill))
    if path.is_file():
        return path.read_bytes()
    return render_bill(bill)


def receipt_pdf(payment: Payment) -> bytes:
    """The receipt (收据) of a payment, refund or reversal: rendered once per state, then read from storage."""
    path = storage.path_for(receipt_file_key(payment))
    if path.is_file():
        return path.read_bytes()
    tenant = _tenant()
    payment = db.session.execute(sa.select(Payment).where(Payment.id == payment.id).options(
        selectinload(Payment.allocations).joinedload(PaymentAllocation.bill).selectinload(Bill.lines),
        selectinload(Payment.allocations).joinedload(PaymentAllocation.bill).joinedload(Bill.parking_space),
    )).unique().scalar_one()
    room = None
    if payment.room_id is not None:
        room = db.session.execute(sa.select(Room).where(Room.id == payment.room_id).options(
            joinedload(Room.building), joinedload(Room.unit))).scalar_one_or_none()
    cashier = db.session.get(User, payment.recorded_by_id) if payment.recorded_by_id else None
    original = db.session.get(Payment, payment.reverses_id) if payment.reverses_id else None
    html = render_template('billing/pdf/receipt.html', payment=payment, tenant_name=tenant.name,
                           kind_name=KIND_NAMES[payment.kind], method_name=PAYMENT_METHOD_NAMES.get(payment.method,
                                                                                                   payment.method),
                           room=room, cashier_name=cashier.name if cashier else None,
                           paid_at=local_datetime(payment.paid_at, tenant), capital=capital(payment.amount_fen),
                           original=original, yuan=format_yuan)
    data = PdfRenderer().write(html)
    storage.write_atomically(receipt_file_key(payment), data)
    return data


def download_name(prefix: str, number: str) -> str:
    return f'{prefix}-{number}.pdf'
