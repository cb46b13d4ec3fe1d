"""remem as an HTTP service: tenants, API keys, metrics (``remem serve``).

``create_app`` needs the ``server`` extra (FastAPI, uvicorn, prometheus-client);
the key table does not, so ``remem keys`` works on a plain install.
"""

from typing import Any

from remem.service.keys import ApiKey, KeyStore

__all__ = ["ApiKey", "KeyStore", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from remem.service.app import create_app

        return create_app
    raise AttributeError(f"module 'remem.service' has no attribute {name!r}")
