"""Staff pages of the residents feature: access."""
from . import bp  # noqa: F401
