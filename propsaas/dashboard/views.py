"""The dashboard page (/dashboard), for admins: the figures of dashboard.figures, each with a link to the list
behind it; the charts are drawn by static/dashboard.js from JSON embedded in the page (the CSP allows no inline
script), and every chart has its table."""
from __future__ import annotations

from flask import g, render_template
from flask_babel import lazy_gettext as _l

from ..auth.sessions import require_role
from ..billing.arrears import BUCKETS
from ..core.navigation import add_nav
from ..money import format_yuan
from ..repairs.stats import format_duration
from ..tenancy.clock import local_datetime
from . import bp, figures


def chart_data(board: figures.Dashboard) -> dict:
    """What the charts draw: plain numbers (fen as integers, the script shows yuan) and labels."""
    return {
        'months': [m.month for m in board.months],
        'revenue_fen': [m.received_fen for m in board.months],
        'orders': [m.orders for m in board.months],
        'ratings': [None if m.average_rating is None else float(m.average_rating) for m in board.months],
        'rated': [m.rated for m in board.months],
        'collection': {'received_fen': board.collection.received_fen,
                       'outstanding_fen': max(board.collection.outstanding_fen, 0)},
        'aging': {'labels': [str(label) for _code, label, *_rest in BUCKETS],
                  'fen': [board.arrears.buckets[code] for code, *_rest in BUCKETS]},
        'labels': {'revenue': str(_l('实收（元）')), 'orders': str(_l('报修工单')), 'rating': str(_l('平均评分')),
                   'received': str(_l('已收')), 'outstanding': str(_l('未收')), 'arrears': str(_l('欠费（元）'))},
    }


@bp.get('/dashboard', endpoint='dashboard')
@require_role('admin')
def dashboard():
    board = figures.compute(g.tenant)
    return render_template('dashboard/dashboard.html', board=board, data=chart_data(board), buckets=BUCKETS,
                           yuan=format_yuan, duration=format_duration, local_datetime=local_datetime)


add_nav('dashboard.dashboard', _l('数据看板'), ('admin',), after='core.home')
