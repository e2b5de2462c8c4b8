from flask import Blueprint

bp = Blueprint('residents', __name__)

from . import access_views, import_views, renovation_views, views  # noqa: E402,F401
