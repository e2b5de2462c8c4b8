"""A project's data as a whole (项目数据): exported to one zip by job, and deleted with a grace period before the purge.

The project's admins export from 「数据导出」; operators export, delete, restore and purge from the operator console
(platform/project_views.py) and the CLI."""
from flask import Blueprint

bp = Blueprint('projectdata', __name__)

from . import views  # noqa: E402,F401
