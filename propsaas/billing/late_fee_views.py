"""Late-fee pages (滞纳金): the project's settings (admins) and the waiver (减免) of a late-fee line on a bill (admins
and staff with the cashier duty)."""
from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..auth.sessions import require_duty, require_role
from ..errors import DomainError
from ..extensions import db
from ..money import format_yuan
from ..tenancy.models import Tenant
from . import bills as queries
from . import bp, late_fees
from .late_fee_forms import LateFeeSettingsForm, WaiveForm

_FORM_FIELDS = {'enabled': 'enabled', 'daily_rate': 'daily_percent', 'grace_days': 'grace_days',
                'cap_percent': 'cap_percent'}


def _settings_page(form: LateFeeSettingsForm, status: int = 200):
    current = late_fees.settings_of(g.tenant)
    return render_template('billing/late_fee_settings.html', form=form, current=current), status


@bp.route('/billing/late-fees/settings', methods=['GET', 'POST'])
@require_role('admin')
def late_fee_settings():
    """滞纳金设置: on or off, the daily rate as a percentage, grace days and the cap."""
    form = LateFeeSettingsForm()
    if request.method == 'GET':
        current = late_fees.settings_of(g.tenant)
        form.enabled.data = current.enabled
        form.daily_percent.data = current.percent_per_day
        form.grace_days.data = str(current.grace_days)
        form.cap_percent.data = late_fees._plain(current.cap_percent)
        return _settings_page(form)
    if not form.validate_on_submit():
        return _settings_page(form, 422)
    tenant = db.session.get(Tenant, g.tenant.id)
    try:
        saved = late_fees.save_settings(tenant, enabled=bool(form.enabled.data),
                                        daily_rate=late_fees.rate_from_percent(form.daily_percent.data),
                                        grace_days=int(form.grace_days.data.strip()),
                                        cap_percent=form.cap_percent.data)
    except DomainError as e:
        db.session.rollback()
        field = getattr(form, _FORM_FIELDS.get(e.field or '', ''), None)
        if field is None:
            flash(e.message, 'error')
        else:
            field.errors = [*field.errors, e.message]
        return _settings_page(form, e.status_code)
    db.session.commit()
    if saved.enabled:
        flash(_('已启用滞纳金：每日 %(percent)s%%，宽限 %(days)s 天，封顶本金的 %(cap)s%%；下次出账时计入逾期账单',
                percent=saved.percent_per_day, days=saved.grace_days, cap=late_fees._plain(saved.cap_percent)))
    else:
        flash(_('滞纳金已关闭：出账时不再计算滞纳金'))
    return redirect(url_for('billing.late_fee_settings'), 303)


@bp.post('/billing/bills/<int:bill_id>/lines/<int:line_id>/waive')
@require_duty('cashier')
def waive_line(bill_id, line_id):
    """减免 a late-fee line of a bill, with a reason; the bill page again, or it with the error (422)."""
    from .bill_views import bill_detail

    bill = queries.load_bill(bill_id)
    line = late_fees.line_of(bill, line_id)
    form = WaiveForm()
    if not form.validate_on_submit():
        messages = [error for errors in form.errors.values() for error in errors]
        flash(str(messages[0]) if messages else _('请填写减免原因'), 'error')
        return bill_detail(bill_id), 422
    try:
        late_fees.waive_line(line, form.reason.data, by_user_id=current_user.id)
    except DomainError as e:
        db.session.rollback()
        flash(e.message, 'error')
        return bill_detail(bill_id), e.status_code
    db.session.commit()
    flash(_('已减免滞纳金 %(amount)s 元', amount=format_yuan(line.amount_fen)))
    return redirect(url_for('billing.bill_detail', bill_id=bill_id), 303)
