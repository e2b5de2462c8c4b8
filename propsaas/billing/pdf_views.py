"""PDF bills and receipts (账单PDF, 收据): the run page's two jobs (打印包, 每户账单PDF), one bill's PDF for cashiers
and for the resident whose room it is, and receipts. Another project's object is 404, and so is another room's for a
resident."""
from __future__ import annotations

import io

from flask import abort, flash, redirect, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm

from ..auth.sessions import require_duty, require_role
from ..errors import DomainError
from ..extensions import db
from ..jobs.queue import QueueUnavailable, enqueue
from . import bills as bill_queries
from . import bp, documents
from . import payments as payment_queries
from .models import Bill, Payment

PDF = 'application/pdf'


class PdfJobForm(FlaskForm):
    """The 生成打印包 / 生成每户账单PDF buttons: only the CSRF token."""


def send_pdf(data: bytes, name: str):
    return send_file(io.BytesIO(data), mimetype=PDF, as_attachment=True, download_name=name)


def bill_response(bill: Bill):
    """The bill's PDF as a download; a void bill is 404 (it is not printed)."""
    if bill.status == 'void':
        abort(404)
    return send_pdf(documents.bill_pdf(bill), f'{bill.number}.pdf')


def receipt_response(payment: Payment):
    return send_pdf(documents.receipt_pdf(payment), f'{payment.number}.pdf')


def _start(run_id: int, func, key: str, started: str):
    run = bill_queries.load_run(run_id)
    if run.status != 'done' or not run.bill_count:
        flash(_('出账完成并生成账单后才能生成PDF'), 'error')
        return redirect(url_for('billing.run_detail', run_id=run.id), 303)
    try:
        enqueue(func, run.id, key=key, requested_by_id=current_user.id)
    except QueueUnavailable as e:
        flash(e.message, 'error')
    except DomainError as e:
        db.session.rollback()
        flash(e.message, 'error')
    else:
        flash(started)
    return redirect(url_for('billing.run_detail', run_id=run.id), 303)


@bp.post('/billing/runs/<int:run_id>/print-pack')
@require_duty('cashier')
def start_print_pack(run_id):
    """生成打印包: one PDF of the run's bills, a page per household, for delivery; a re-run replaces it."""
    bill_queries.load_run(run_id)
    if not PdfJobForm().validate_on_submit():
        abort(400)
    return _start(run_id, documents.render_print_pack, documents.print_pack_key(run_id),
                  _('已开始生成打印包，完成后可在此下载'))


@bp.post('/billing/runs/<int:run_id>/bill-pdfs')
@require_duty('cashier')
def start_bill_pdfs(run_id):
    """生成每户账单PDF: one file per bill, which the portal and the bill pages then serve."""
    bill_queries.load_run(run_id)
    if not PdfJobForm().validate_on_submit():
        abort(400)
    return _start(run_id, documents.render_bill_pdfs, documents.bill_pdfs_key(run_id),
                  _('已开始生成每户账单PDF'))


@bp.get('/billing/bills/<int:bill_id>/pdf')
@require_duty('cashier')
def bill_pdf(bill_id):
    return bill_response(bill_queries.load_bill(bill_id))


@bp.get('/my/bills/<int:bill_id>/pdf')
@require_role('resident', 'admin', 'staff')
def my_bill_pdf(bill_id):
    if current_user.role != 'resident':
        abort(404)  # nobody else has bills of their own
    return bill_response(bill_queries.resident_bill(current_user, bill_id))


@bp.get('/billing/payments/<int:payment_id>/receipt.pdf')
@require_duty('cashier')
def payment_receipt_pdf(payment_id):
    return receipt_response(payment_queries.load_payment(payment_id))


@bp.get('/my/payments/<int:payment_id>/receipt.pdf')
@require_role('resident', 'admin', 'staff')
def my_payment_receipt_pdf(payment_id):
    if current_user.role != 'resident':
        abort(404)
    return receipt_response(payment_queries.resident_payment(current_user, payment_id))
