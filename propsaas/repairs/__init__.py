"""Repair work orders (报修): reporting, dispatch, the technician's work, confirmation, ratings, return visits and
statistics."""
from flask import Blueprint

bp = Blueprint('repairs', __name__)

from . import provisioning  # noqa: E402,F401  (the template's categories for new projects)
