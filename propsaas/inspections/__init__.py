"""Inspections and the equipment ledger (巡检与台账): devices with their certificates, inspection plans and the tasks
generated from them."""
from flask import Blueprint

bp = Blueprint('inspections', __name__)

from . import (  # noqa: E402,F401  (pages, the maintenance task, the template's plans)
    device_views,
    generation,
    maintenance_views,
    plan_views,
    provisioning,
    report_views,
    task_views,
)
