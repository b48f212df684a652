"""The control plane's REST API (FastAPI, under /api/v1)."""
