"""API: Renovation registrations."""
from flask_smorest import Blueprint

PREFIX = '/renovations'
blp = Blueprint('api_renovations', __name__, description='Renovation registrations')
