"""API: the project dashboard (数据看板) for admins — the figures of the /dashboard page, for a manager's app.

``GET /api/v1/dashboard``: as of now, in the project's timezone. Money is an object ``{"fen": 123456, "yuan":
"1234.56"}`` (integer fen, the yuan string for showing); rates are objects ``{"count", "of", "percent"}`` with the
percent a string of one decimal ('87.5', None when ``of`` is 0); durations are whole seconds; average ratings are
strings of two decimals ('4.33'). Definitions: propsaas/dashboard/figures.py and docs/dashboard.md.
"""
from __future__ import annotations

import marshmallow as ma
from flask import g
from flask_smorest import Blueprint

from ..api.auth import BEARER, api_login_required
from ..api.schemas import errors
from ..billing.arrears import BUCKET_CODES
from ..money import format_yuan
from . import figures

PREFIX = '/dashboard'
blp = Blueprint('api_dashboard', __name__, description='The project dashboard (数据看板)')


class DashboardMoneySchema(ma.Schema):
    fen = ma.fields.Integer(required=True)
    yuan = ma.fields.String(required=True, metadata={'description': "'1234.56'"})


class DashboardRateSchema(ma.Schema):
    count = ma.fields.Integer(required=True)
    of = ma.fields.Integer(required=True)
    percent = ma.fields.String(allow_none=True, metadata={'description': "'87.5'; None when 'of' is 0"})


class DashboardCollectionSchema(ma.Schema):
    period = ma.fields.String(required=True, metadata={'description': "this local month, '2026-06'"})
    bills = ma.fields.Integer(required=True)
    receivable = ma.fields.Nested(DashboardMoneySchema, required=True,
                                  metadata={'description': "this month's bills"})
    received = ma.fields.Nested(DashboardMoneySchema, required=True,
                                metadata={'description': 'allocated to them so far, net of reversals'})
    outstanding = ma.fields.Nested(DashboardMoneySchema, required=True)
    rate = ma.fields.Nested(DashboardRateSchema, required=True,
                            metadata={'description': '收缴率: received / receivable'})


class DashboardAgingSchema(ma.Schema):
    d30 = ma.fields.Nested(DashboardMoneySchema, required=True, metadata={'description': '0-30 days overdue'})
    d90 = ma.fields.Nested(DashboardMoneySchema, required=True, metadata={'description': '31-90 days overdue'})
    d180 = ma.fields.Nested(DashboardMoneySchema, required=True, metadata={'description': '91-180 days overdue'})
    over180 = ma.fields.Nested(DashboardMoneySchema, required=True, metadata={'description': 'over 180 days overdue'})


class DashboardArrearsSchema(ma.Schema):
    total = ma.fields.Nested(DashboardMoneySchema, required=True)
    rooms = ma.fields.Integer(required=True)
    bills = ma.fields.Integer(required=True)
    aging = ma.fields.Nested(DashboardAgingSchema, required=True)


class DashboardMonthSchema(ma.Schema):
    month = ma.fields.String(required=True, metadata={'description': "'2026-03', the local month"})
    received = ma.fields.Nested(DashboardMoneySchema, required=True,
                                metadata={'description': 'payments − refunds − reversals (see the docs)'})
    orders = ma.fields.Integer(required=True, metadata={'description': 'work orders submitted'})
    rated = ma.fields.Integer(required=True, metadata={'description': 'ratings given (by confirmation month)'})
    average_rating = ma.fields.String(allow_none=True)


class DashboardHotSpotSchema(ma.Schema):
    place = ma.fields.String(required=True)
    category = ma.fields.String(required=True)
    orders_count = ma.fields.Integer(required=True)
    peak = ma.fields.Integer(required=True)


class DashboardRepairsSchema(ma.Schema):
    open = ma.fields.Integer(required=True, metadata={'description': '待派单 + 已派单 + 维修中'})
    overdue = ma.fields.Integer(required=True, metadata={'description': 'open and past a deadline now'})
    by_status = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer(), required=True)
    response_average_seconds = ma.fields.Integer(allow_none=True)
    response_median_seconds = ma.fields.Integer(allow_none=True)
    response_orders = ma.fields.Integer(required=True)
    resolution_average_seconds = ma.fields.Integer(allow_none=True)
    resolution_median_seconds = ma.fields.Integer(allow_none=True)
    resolution_orders = ma.fields.Integer(required=True)
    rated = ma.fields.Integer(required=True)
    average_rating = ma.fields.String(allow_none=True)
    hot_spot_count = ma.fields.Integer(required=True)
    hot_spots = ma.fields.List(ma.fields.Nested(DashboardHotSpotSchema), required=True,
                               metadata={'description': f'the worst {figures.HOT_SPOTS}'})


class DashboardInspectionsSchema(ma.Schema):
    completion = ma.fields.Nested(DashboardRateSchema, required=True,
                                  metadata={'description': "this month's tasks done"})
    devices = ma.fields.Integer(required=True)
    failures = ma.fields.Integer(required=True)
    failures_per_device_month = ma.fields.String(required=True, metadata={'description': "'0.25'"})


class DashboardSchema(ma.Schema):
    as_of = ma.fields.Date(required=True, metadata={'description': "today in the project's timezone"})
    trend_start = ma.fields.Date(required=True)
    announcements_since = ma.fields.Date(required=True)
    collection = ma.fields.Nested(DashboardCollectionSchema, required=True)
    arrears = ma.fields.Nested(DashboardArrearsSchema, required=True)
    months = ma.fields.List(ma.fields.Nested(DashboardMonthSchema), required=True,
                            metadata={'description': '12, oldest first'})
    repairs = ma.fields.Nested(DashboardRepairsSchema, required=True)
    inspections = ma.fields.Nested(DashboardInspectionsSchema, required=True)
    announcements = ma.fields.Nested(DashboardRateSchema, required=True,
                                     metadata={'description': 'messages read / sent, last 30 days'})


def money(fen: int) -> dict:
    return {'fen': int(fen), 'yuan': format_yuan(fen)}


def rate(count: int, of: int) -> dict:
    value = figures.percent(count, of)
    return {'count': count, 'of': of, 'percent': None if value is None else str(value)}


def _text(value) -> str | None:
    return None if value is None else str(value)


def as_json(board: figures.Dashboard) -> dict:
    c, r, i, a = board.collection, board.repairs, board.inspections, board.announcements
    return {
        'as_of': board.today, 'trend_start': board.trend_start, 'announcements_since': board.announcements_since,
        'collection': {'period': c.period, 'bills': c.bills, 'receivable': money(c.receivable_fen),
                       'received': money(c.received_fen), 'outstanding': money(c.outstanding_fen),
                       'rate': rate(c.received_fen, c.receivable_fen)},
        'arrears': {'total': money(board.arrears.total_fen), 'rooms': board.arrears.rooms,
                    'bills': board.arrears.bills,
                    'aging': {code: money(board.arrears.buckets[code]) for code in BUCKET_CODES}},
        'months': [{'month': m.month, 'received': money(m.received_fen), 'orders': m.orders, 'rated': m.rated,
                    'average_rating': _text(m.average_rating)} for m in board.months],
        'repairs': {'open': r.open, 'overdue': r.overdue, 'by_status': r.by_status,
                    'response_average_seconds': r.response_average, 'response_median_seconds': r.response_median,
                    'response_orders': r.response_orders, 'resolution_average_seconds': r.resolution_average,
                    'resolution_median_seconds': r.resolution_median, 'resolution_orders': r.resolution_orders,
                    'rated': r.rated, 'average_rating': _text(r.average_rating), 'hot_spot_count': r.hot_spot_count,
                    'hot_spots': [{'place': s.place, 'category': s.category, 'orders_count': s.count,
                                   'peak': s.peak} for s in r.hot_spots]},
        'inspections': {'completion': rate(i.done, i.due), 'devices': i.devices, 'failures': i.failures,
                        'failures_per_device_month': str(i.failures_per_device_month)},
        'announcements': rate(a.read, a.recipients),
    }


@blp.route('', methods=['GET'])
@blp.response(200, DashboardSchema)
@errors(blp, 401, 403)
@blp.doc(security=BEARER)
@api_login_required('admin')
def dashboard():
    """The dashboard's figures as of now. 401 without a token, 403 for anyone but the project's admins."""
    return as_json(figures.compute(g.tenant))
