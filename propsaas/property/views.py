"""Staff pages of the property feature."""
from ..tenancy.guards import tenant_only
from . import bp

tenant_only(bp)
