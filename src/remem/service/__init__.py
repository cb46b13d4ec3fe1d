"""remem as an HTTP service: tenants, API keys, metrics (``remem serve``)."""

from remem.service.app import create_app
from remem.service.keys import ApiKey, KeyStore

__all__ = ["ApiKey", "KeyStore", "create_app"]
