"""Home pages: the platform landing on the base domain, staff and resident homes on a tenant host."""
from flask import g, redirect, render_template, url_for
from flask_login import current_user

from . import bp


@bp.get('/')
def home():
    if g.get('platform'):
        return render_template('platform/landing.html')
    if not current_user.is_authenticated:
        return redirect(url_for('auth.login'))
    if current_user.is_staff:
        return render_template('core/staff_home.html')
    return render_template('core/resident_home.html')
