"""The project dashboard (数据看板): the key figures of billing, repairs, inspections and notices for admins, as
charts with their tables and links to the lists behind them, and the same figures at /api/v1/dashboard."""
from flask import Blueprint

bp = Blueprint('dashboard', __name__)

from . import views  # noqa: E402,F401
