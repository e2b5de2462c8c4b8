"""API: repair statistics (报修统计) for admins and the service desk — the figures of the /repairs/stats page.

``GET /repairs/stats?start=2026-01-01&end=2026-06-30&building_id=3``: orders created in the range of local days
(both included; default the last 12 months), of one building or all: by category, by building, by local month
(empty months included), response time (submission to the first 开始维修) and resolution time (submission to
completion) as median and 90th percentile in seconds, overdue and reopen rates (count, of, percent as a decimal
string), the average rating (rated orders only, a decimal string) and hot spots (3 or more orders of one category at
one room or public area within any 90 days) with their orders. See propsaas/repairs/stats.py for the definitions.
"""
from __future__ import annotations

import marshmallow as ma
from flask import g
from flask_smorest import Blueprint
from marshmallow import validate

from ..models_base import MAX_ID
from ..repairs import stats
from .auth import BEARER, api_login_required
from .schemas import errors

PREFIX = '/repairs'
blp = Blueprint('api_repair_stats', __name__, description='Repair statistics (报修统计)')

STAFF = ('admin', 'staff')
DESK = ('service_desk',)


class StatsArgsSchema(ma.Schema):
    start = ma.fields.Date(metadata={'description': 'first local day (default: the first day of the month 11 '
                                                    'months ago)'})
    end = ma.fields.Date(metadata={'description': 'last local day, included (default: today)'})
    building_id = ma.fields.Integer(validate=validate.Range(min=1, max=MAX_ID))


class CountSchema(ma.Schema):
    id = ma.fields.Integer(allow_none=True, metadata={'description': 'None: public areas of no building'})
    name = ma.fields.String(required=True)
    orders = ma.fields.Integer(required=True)


class MonthSchema(ma.Schema):
    month = ma.fields.String(required=True, metadata={'description': "'2026-03', the local month"})
    orders = ma.fields.Integer(required=True)


class TimesSchema(ma.Schema):
    orders = ma.fields.Integer(required=True, metadata={'description': 'orders that have this duration'})
    median_seconds = ma.fields.Integer(allow_none=True)
    p90_seconds = ma.fields.Integer(allow_none=True)


class RateSchema(ma.Schema):
    count = ma.fields.Integer(required=True)
    of = ma.fields.Integer(required=True)
    percent = ma.fields.String(allow_none=True, metadata={'description': "'21.4'; None when 'of' is 0"})


class RatingSchema(ma.Schema):
    rated = ma.fields.Integer(required=True)
    average = ma.fields.String(allow_none=True, metadata={'description': "'3.67'; None when nothing is rated"})


class HotSpotOrderSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    number = ma.fields.String(required=True)
    status = ma.fields.String(required=True)
    created_at = ma.fields.DateTime(required=True)


class HotSpotSchema(ma.Schema):
    place = ma.fields.String(required=True, metadata={'description': "room code, or '1栋 大堂'"})
    room_id = ma.fields.Integer(allow_none=True)
    building_id = ma.fields.Integer(allow_none=True)
    public_area = ma.fields.String(allow_none=True)
    category_id = ma.fields.Integer(required=True)
    category = ma.fields.String(required=True)
    orders_count = ma.fields.Integer(required=True, metadata={'description': 'its orders in the range'})
    peak = ma.fields.Integer(required=True, metadata={'description': 'the most of them within one 90-day window'})
    orders = ma.fields.List(ma.fields.Nested(HotSpotOrderSchema), required=True)


class StatsSchema(ma.Schema):
    start = ma.fields.Date(required=True)
    end = ma.fields.Date(required=True)
    building_id = ma.fields.Integer(allow_none=True)
    total = ma.fields.Integer(required=True)
    by_category = ma.fields.List(ma.fields.Nested(CountSchema), required=True)
    by_building = ma.fields.List(ma.fields.Nested(CountSchema), required=True)
    by_month = ma.fields.List(ma.fields.Nested(MonthSchema), required=True)
    response = ma.fields.Nested(TimesSchema, required=True,
                                metadata={'description': 'submission to the first 开始维修'})
    resolution = ma.fields.Nested(TimesSchema, required=True, metadata={'description': 'submission to completion'})
    overdue = ma.fields.Nested(RateSchema, required=True)
    reopened = ma.fields.Nested(RateSchema, required=True,
                                metadata={'description': 'reopened / completed at least once'})
    rating = ma.fields.Nested(RatingSchema, required=True)
    hot_spots = ma.fields.List(ma.fields.Nested(HotSpotSchema), required=True)


def _times(times: stats.Times) -> dict:
    return {'orders': times.orders, 'median_seconds': times.median, 'p90_seconds': times.p90}


def _rate(rate: stats.Rate) -> dict:
    return {'count': rate.count, 'of': rate.of, 'percent': None if rate.percent is None else str(rate.percent)}


@blp.route('/stats', methods=['GET'])
@blp.arguments(StatsArgsSchema, location='query')
@blp.response(200, StatsSchema)
@errors(blp, 401, 403, 422)
@blp.doc(security=BEARER)
@api_login_required(*STAFF, duties=DESK)
def repair_stats(args):
    """The statistics of a range of local days (default the last 12 months) and a building. 401 without a token,
    403 for roles other than admins and the service desk, 422 for a bad date, start after end, a range over 60
    months or a building not of the project."""
    start, end, building_id = stats.check_range(g.tenant, args.get('start'), args.get('end'),
                                                args.get('building_id'))
    s = stats.compute(g.tenant, start, end, building_id)
    return {
        'start': s.start, 'end': s.end, 'building_id': s.building_id, 'total': s.total,
        'by_category': [c.__dict__ for c in s.by_category], 'by_building': [c.__dict__ for c in s.by_building],
        'by_month': [{'month': month, 'orders': count} for month, count in s.by_month],
        'response': _times(s.response), 'resolution': _times(s.resolution),
        'overdue': _rate(s.overdue), 'reopened': _rate(s.reopened),
        'rating': {'rated': s.rated, 'average': None if s.average_rating is None else str(s.average_rating)},
        'hot_spots': [{'place': spot.place, 'room_id': spot.room_id, 'building_id': spot.building_id,
                       'public_area': spot.public_area, 'category_id': spot.category_id, 'category': spot.category,
                       'orders_count': spot.count, 'peak': spot.peak,
                       'orders': [order.__dict__ for order in spot.orders]} for spot in s.hot_spots],
    }
