"""Online payment pages: the resident pays bills (在线缴费) and manages 代扣; the sandbox provider's own pages; the
providers' notify endpoint; the admin's provider settings and the cashier's list of online orders.

A resident's order, mandate or bill of another room (or project) is 404, like anything else that isn't theirs.
"""
from __future__ import annotations

import segno
from flask import abort, current_app, flash, g, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup

from ..auth.sessions import host_key, require_duty, require_role
from ..core.navigation import add_nav
from ..errors import DomainError
from ..extensions import csrf, db, limiter
from ..models_base import get_or_404
from ..money import format_yuan
from ..tenancy.clock import local_datetime
from . import bills as bill_queries
from . import bp, online, payments
from .models import (
    MANDATE_STATUS_NAMES,
    ORDER_STATUS_NAMES,
    ORDER_STATUSES,
    PROVIDER_NAMES,
    AutopayMandate,
    PaymentOrder,
)
from .online_forms import CancelMandateForm, MandateForm, PayForm, ProviderSettingsForm, SandboxForm
from .providers import ProviderError, provider_class

PER_PAGE = 30


def _context(**extra) -> dict:
    return {'yuan': format_yuan, 'providers': PROVIDER_NAMES, 'order_statuses': ORDER_STATUS_NAMES,
            'mandate_statuses': MANDATE_STATUS_NAMES, 'when': lambda value: local_datetime(value, g.tenant),
            **extra}


def _resident_only() -> None:
    if current_user.role != 'resident':
        abort(404)  # nobody else pays bills of their own here: like another room's order, it isn't there


def _mine(model, object_id: int):
    """The resident's own order or mandate (a room they live in); anything else is 404."""
    _resident_only()
    found = get_or_404(model, object_id)
    if online.resident_of(current_user, found.room_id) is None:
        abort(404)
    return found


# --- paying ------------------------------------------------------------------------------------------------------

def _pay_page(bill, form: PayForm, status: int = 200, error=None):
    open_bills = payments.open_bills(bill.room_id) if bill.room_id else []
    paid = payments.paid_by_bill(b.id for b in open_bills)
    if not form.bill_ids.data and bill.status in payments.OPEN_STATUSES:
        form.bill_ids.data = [bill.id]
    providers = online.enabled_providers()
    form.provider.choices = [(name, PROVIDER_NAMES[name]) for name in providers]
    return render_template('billing/my_pay.html', bill=bill, form=form, open_bills=open_bills, paid=paid,
                           place=bill_queries.place(bill), error=error, enabled=providers, **_context()), status


@bp.get('/my/bills/<int:bill_id>/pay')
@require_role('resident', 'admin', 'staff')
def pay_bill(bill_id):
    """去缴费: the bill's room's open bills to choose from (this one ticked), and the project's payment methods."""
    _resident_only()
    bill = bill_queries.resident_bill(current_user, bill_id)
    return _pay_page(bill, PayForm())


@bp.post('/my/bills/<int:bill_id>/pay')
@require_role('resident', 'admin', 'staff')
def start_payment(bill_id):
    _resident_only()
    bill = bill_queries.resident_bill(current_user, bill_id)
    form = PayForm()
    if not form.validate_on_submit() or bill.room_id is None:
        return _pay_page(bill, form, 422, _('请刷新页面后重试'))
    try:
        order = online.start_order(current_user, bill.room, form.provider.data, form.bill_ids.data)
        db.session.commit()
        checkout = online.begin_checkout(order, client_ip=request.remote_addr or '', mobile=_is_phone())
    except DomainError as e:
        db.session.rollback()
        return _pay_page(bill, form, e.status_code, e.message)
    except ProviderError as e:
        return _pay_page(bill, form, 502, e.message)
    if checkout.redirect_url:
        return redirect(checkout.redirect_url)
    return render_template('billing/my_pay_qr.html', order=order, qr=_qr(checkout.qr_text), **_context())


def _is_phone() -> bool:
    agent = (request.user_agent.string or '').lower()
    return any(word in agent for word in ('mobile', 'android', 'iphone', 'micromessenger'))


def _qr(text: str | None) -> Markup | None:
    if not text:
        return None
    return Markup(segno.make(text, error='m').svg_inline(scale=5))  # nosec B704 - segno's own SVG, no user markup


@bp.get('/my/pay/orders/<int:order_id>')
@require_role('resident', 'admin', 'staff')
def my_order(order_id):
    """The outcome of a payment: paid (with the receipt), failed, or still waiting for the provider's word."""
    order = _mine(PaymentOrder, order_id)
    response = make_response(render_template('billing/my_order.html', order=order, **_context()))
    if order.status == 'pending':
        response.headers['Refresh'] = '3'  # the provider's notification is on its way
    return response


# --- the sandbox provider's pages ----------------------------------------------------------------------------------

@bp.route('/pay/sandbox/orders/<int:order_id>', methods=['GET', 'POST'])
@require_role('resident', 'admin', 'staff')
def sandbox_order(order_id):
    """模拟支付's cashier page: pay the order, or make the payment fail; the outcome is notified asynchronously."""
    order = _mine(PaymentOrder, order_id)
    if order.provider != 'sandbox':
        abort(404)
    form = SandboxForm()
    if request.method == 'POST':
        if not form.validate_on_submit() or order.status != 'pending':
            flash(_('这笔订单已处理，请勿重复支付'), 'error')
            return redirect(url_for('billing.my_order', order_id=order.id))
        online.deliver_sandbox_notice(order, succeeded=request.form.get('outcome') != 'fail')
        return redirect(url_for('billing.my_order', order_id=order.id))
    return render_template('billing/sandbox_pay.html', order=order, form=form, mandate=None, **_context())


@bp.route('/pay/sandbox/mandates/<int:mandate_id>', methods=['GET', 'POST'])
@require_role('resident', 'admin', 'staff')
def sandbox_mandate(mandate_id):
    """模拟支付's agreement page: sign the 代扣 agreement, or decline."""
    mandate = _mine(AutopayMandate, mandate_id)
    if mandate.provider != 'sandbox':
        abort(404)
    form = SandboxForm()
    if request.method == 'POST':
        if form.validate_on_submit() and mandate.status == 'pending' and request.form.get('outcome') != 'fail':
            online.deliver_sandbox_notice(mandate, succeeded=True)
        return redirect(url_for('billing.my_autopay'))
    return render_template('billing/sandbox_pay.html', order=None, mandate=mandate, form=form, **_context())


# --- the providers' notifications ----------------------------------------------------------------------------------

def _notify_client_key() -> str:
    return f'pay-notify:{host_key()}:{request.remote_addr}'


@bp.post('/pay/notify/<provider>')
@csrf.exempt  # the provider signs what it sends; there is no session and no form token
# Only refused notifications count (forged, stale, unknown): a flood of them, each a signature to check, is slowed
# per address; a provider's genuine ones never are.
@limiter.limit(lambda: current_app.config['NOTIFY_REFUSED_LIMIT_PER_CLIENT'], key_func=_notify_client_key,
               deduct_when=lambda response: response.status_code >= 400, scope='pay-notify')
def payment_notify(provider):
    if g.get('tenant') is None or provider not in PROVIDER_NAMES:
        abort(404)
    _believed, (body, status, headers) = online.receive(provider, request.headers, request.get_data(),
                                                        request.form)
    return body, status, headers


# --- 代扣 ----------------------------------------------------------------------------------------------------------

@bp.get('/my/autopay')
@require_role('resident', 'admin', 'staff')
def my_autopay():
    """自动代扣: for each of the resident's rooms, the mandate (if any) and a way to sign or cancel it."""
    _resident_only()
    return _autopay_page(MandateForm())


def _autopay_page(form: MandateForm, status: int = 200, error=None):
    rooms = online.resident_rooms(current_user)
    mandates = online.room_mandates(room.id for room in rooms)
    providers = online.autopay_providers()
    form.room_id.choices = [(room.id, room.code) for room in rooms if room.id not in mandates
                            or mandates[room.id].status != 'active']
    form.provider.choices = [(name, PROVIDER_NAMES[name]) for name in providers]
    orders = online.autopay_orders([mandate.id for mandate in mandates.values()])
    return render_template('billing/my_autopay.html', rooms=rooms, mandates=mandates, form=form,
                           cancel_form=CancelMandateForm(), orders=orders, error=error, enabled=providers,
                           **_context()), status


@bp.post('/my/autopay')
@require_role('resident', 'admin', 'staff')
def sign_autopay():
    _resident_only()
    form = MandateForm()
    if not form.validate_on_submit():
        return _autopay_page(form, 422, _('请刷新页面后重试'))
    room = next((room for room in online.resident_rooms(current_user) if room.id == form.room_id.data), None)
    if room is None:
        return _autopay_page(form, 422, _('请选择你居住的房屋'))
    try:
        mandate = online.start_mandate(current_user, room, form.provider.data)
        db.session.commit()
        checkout = online.mandate_checkout(mandate)
    except DomainError as e:
        db.session.rollback()
        return _autopay_page(form, e.status_code, e.message)
    except ProviderError as e:
        return _autopay_page(form, 502, e.message)
    if checkout.redirect_url:
        return redirect(checkout.redirect_url)
    return render_template('billing/my_pay_qr.html', order=None, qr=_qr(checkout.qr_text), **_context())


@bp.post('/my/autopay/<int:mandate_id>/cancel')
@require_role('resident', 'admin', 'staff')
def cancel_autopay(mandate_id):
    mandate = _mine(AutopayMandate, mandate_id)
    form = CancelMandateForm()
    if not form.validate_on_submit():
        return _autopay_page(MandateForm(), 422, _('请刷新页面后重试'))
    try:
        online.cancel_mandate(mandate, form.reason.data or _('住户解约'))
    except DomainError as e:
        db.session.rollback()
        return _autopay_page(MandateForm(), e.status_code, e.message)
    db.session.commit()
    flash(_('已解约，之后的账单不再自动扣款'))
    return redirect(url_for('billing.my_autopay'))


add_nav('billing.my_autopay', _l('自动代扣'), ('resident',), after='billing.my_bills')


# --- staff: settings and the orders --------------------------------------------------------------------------------

@bp.get('/billing/payment-settings')
@require_role('admin')
def payment_settings():
    """在线支付设置: each provider's merchant settings (secrets write-only) and its notify URL."""
    return _settings_page()


def _settings_page(status: int = 200, errors: dict | None = None):
    rows = online.settings()
    specs = {name: provider_class(name) for name in online.offered_providers()}
    return render_template('billing/payment_settings.html', specs=specs, rows=rows, form=ProviderSettingsForm(),
                           notify_url=online.notify_url, errors=errors or {}, **_context()), status


@bp.post('/billing/payment-settings/<provider>')
@require_role('admin')
def save_payment_settings(provider):
    if provider not in online.offered_providers():
        abort(404)
    form = ProviderSettingsForm()
    if not form.validate_on_submit():
        return _settings_page(422, {provider: _('请刷新页面后重试')})
    values = {spec.name: request.form.get(spec.name, '') for spec in provider_class(provider).fields}
    try:
        online.save_settings(provider, enabled=form.enabled.data, values=values, by_user_id=current_user.id)
    except DomainError as e:
        db.session.rollback()
        return _settings_page(e.status_code, {provider: e.message})
    db.session.commit()
    flash(_('已保存%(name)s设置', name=PROVIDER_NAMES[provider]))
    return redirect(url_for('billing.payment_settings'))


@bp.get('/billing/payment-orders')
@require_duty('cashier')
def payment_orders():
    """在线支付订单: what residents started online, and what became of it (for reconciliation with the provider)."""
    status = request.args.get('status') if request.args.get('status') in ORDER_STATUSES else None
    page = max(request.args.get('page', 1, type=int), 1)
    pagination = db.paginate(online.orders_query(status=status), page=page, per_page=PER_PAGE, error_out=False)
    rooms = online.rooms_by_id(order.room_id for order in pagination.items)
    return render_template('billing/payment_orders.html', pagination=pagination, rooms=rooms, status=status,
                           statuses=ORDER_STATUSES, filters={'status': status}, **_context())
