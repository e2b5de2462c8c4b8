"""Onboarding (交付): the onboarding pack PDF rendered by job, and residents activating their own portal accounts."""
from flask import Blueprint

bp = Blueprint('onboarding', __name__)

from . import views  # noqa: E402,F401  (routes register on import)
