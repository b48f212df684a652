"""Tunnel: outbound-only connectors and the edge side that serves them."""
