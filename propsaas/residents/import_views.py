"""Staff pages of the residents feature: import."""
from . import bp  # noqa: F401
