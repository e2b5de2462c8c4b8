"""API: Resident imports (preview, commit, error report)."""
from flask_smorest import Blueprint

PREFIX = '/imports'
blp = Blueprint('api_imports', __name__, description='Resident imports (preview, commit, error report)')
