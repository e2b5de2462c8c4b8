"""Property companies on the platform: sign-up, company accounts and their console, login links into projects."""
from flask import Blueprint

#: the platform host: sign-up, the company console, the operators' list of sign-ups
bp = Blueprint('companies', __name__)
#: a project's host: where a login link minted in the console is consumed
project_bp = Blueprint('company_links', __name__)

from . import views  # noqa: E402,F401
