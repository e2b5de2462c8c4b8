"""The task page's form: only its CSRF token is a WTForms field (the checklist's fields follow the plan's items)."""
from __future__ import annotations

from flask_wtf import FlaskForm


class ActionForm(FlaskForm):
    pass
