"""Repair work orders (报修): reporting, dispatch, the technician's work, confirmation, ratings, return visits and
statistics."""
from flask import Blueprint

bp = Blueprint('repairs', __name__)

from . import (  # noqa: E402,F401  (views and the template's categories for new projects)
    desk_views,
    portal_views,
    provisioning,
    settings_views,
    staff_views,
    stats_views,
    sweeps,
    technician_views,
)
