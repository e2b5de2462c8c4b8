"""Staff pages of the residents feature: renovation."""
from . import bp  # noqa: F401
