from flask import Blueprint

bp = Blueprint('residents', __name__)

from . import views  # noqa: E402,F401
