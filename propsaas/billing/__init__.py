"""Billing (费用管理): fee items and rules, meter readings, bill runs, bills, payments, arrears and reminders."""
from flask import Blueprint

bp = Blueprint('billing', __name__)

from . import (  # noqa: E402,F401  (routes and provisioners)
    arrears_views,
    bill_views,
    fee_item_views,
    late_fee_views,
    meter_views,
    online,
    online_views,
    payment_views,
    pdf_views,
    portal_views,
    provisioning,
    run_views,
)
