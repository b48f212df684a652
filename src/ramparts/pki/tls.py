"""ssl contexts: the edge's server side, and clients that pin the team CA."""

from __future__ import annotations

import ssl
from pathlib import Path

from ramparts.pki.ca import IssuedCertificate, write_private


def server_context(
    cert_path: Path, key_path: Path, alpn: list[str] | None = None
) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_path, key_path)
    if alpn:
        context.set_alpn_protocols(alpn)
    return context


def write_certificate(directory: Path, stem: str, issued: IssuedCertificate) -> tuple[Path, Path]:
    """Write ``<stem>.pem`` and ``<stem>.key`` (0600) and return their paths."""
    cert_path, key_path = directory / f"{stem}.pem", directory / f"{stem}.key"
    write_private(key_path, issued.key_pem)
    cert_path.write_bytes(issued.cert_pem)
    return cert_path, key_path


def pinned_client_context(ca_pem: bytes) -> ssl.SSLContext:
    """A client context that trusts only the team CA (not the system store)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_verify_locations(cadata=ca_pem.decode("ascii"))
    return context
