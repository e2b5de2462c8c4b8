"""API: Residents, their rooms and vehicles."""
from flask_smorest import Blueprint

PREFIX = '/residents'
blp = Blueprint('api_residents', __name__, description='Residents, their rooms and vehicles')
