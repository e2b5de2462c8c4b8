"""Inspections and the equipment ledger (巡检与台账): devices with their certificates, inspection plans and the tasks
generated from them."""
from flask import Blueprint

bp = Blueprint('inspections', __name__)

from . import generation, provisioning  # noqa: E402,F401  (the maintenance task, the template's plans)
