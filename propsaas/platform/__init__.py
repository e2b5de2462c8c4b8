from flask import Blueprint

bp = Blueprint('platform', __name__)

from . import views  # noqa: E402,F401
