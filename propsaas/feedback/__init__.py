"""Problem reports and suggestions from a project's staff to the platform (问题反馈): sent from inside the app with
the page they were on and an optional screenshot; operators answer and close them in the operator console."""
from flask import Blueprint

bp = Blueprint('feedback', __name__)

from . import views  # noqa: E402,F401
