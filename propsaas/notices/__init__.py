"""Notification center (消息通知中心): announcements, messages to residents over every channel, surveys."""
from flask import Blueprint

bp = Blueprint('notices', __name__)

from . import channels, provisioning  # noqa: E402,F401
