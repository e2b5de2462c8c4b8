"""Billing (费用管理): fee items and rules, meter readings, bill runs, bills."""
from flask import Blueprint

bp = Blueprint('billing', __name__)
