"""API: Buildings, units, rooms and parking spaces."""
from flask_smorest import Blueprint

PREFIX = '/property'
blp = Blueprint('api_property', __name__, description='Buildings, units, rooms and parking spaces')
