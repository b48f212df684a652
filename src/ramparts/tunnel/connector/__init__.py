"""The tunnel connector: dials out to the edge and proxies its requests to private origins.

Runs on other machines with only a token or a credentials file, so nothing here imports
``ramparts.edge``, ``ramparts.store`` or ``ramparts.api``. Configuration (``config.py``),
ingress rules (``ingress.py``, ``services.py``) and per-origin settings (``origin_request.py``)
are pure; the supervisor and the origin proxy do the I/O.
"""
