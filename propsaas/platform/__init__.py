from flask import Blueprint

bp = Blueprint('platform', __name__)

from . import job_views, project_views, views  # noqa: E402,F401
