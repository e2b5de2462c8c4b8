"""Reports (报表): figures for a range of local days and one building or all, each a page with a table and an .xlsx
export — fee collection, the payment journal, work orders, inspections and equipment failures; the arrears list is
billing's own (linked from the index)."""
from flask import Blueprint

bp = Blueprint('reports', __name__)

from . import views  # noqa: E402,F401
