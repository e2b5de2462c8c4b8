"""Spreadsheet helpers shared by features."""

_FORMULA_START = ('=', '+', '-', '@', '\t', '\r')


def safe_cell(value):
    """Neutralise text that Excel/WPS would run as a formula (CSV/formula injection) by prefixing a quote."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value
