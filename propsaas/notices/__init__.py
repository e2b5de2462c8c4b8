"""Notification center (消息通知中心): announcements, messages to residents over every channel, surveys."""
from flask import Blueprint

bp = Blueprint('notices', __name__)

from . import (  # noqa: E402,F401  (routes, channel providers, provisioners)
    announcement_views,
    channels,
    portal_views,
    preference_views,
    provisioning,
    settings_views,
    survey_provisioning,
    survey_views,
    wechat_binding,
)
