from flask import Blueprint

bp = Blueprint('property', __name__)

from . import provisioning, views  # noqa: E402,F401
