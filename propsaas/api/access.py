"""API: Gates and access permissions."""
from flask_smorest import Blueprint

PREFIX = '/access'
blp = Blueprint('api_access', __name__, description='Gates and access permissions')
