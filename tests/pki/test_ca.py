"""The team CA: created once with a private key file, issues leaves that clients can pin."""

from __future__ import annotations

import asyncio
import ssl
import stat
from pathlib import Path

import pytest
from cryptography import x509

from ramparts.pki.ca import CA_KEY_FILE, CaError, TeamCA
from ramparts.pki.tls import pinned_client_context, server_context, write_certificate


def test_created_once_with_private_key(tmp_path: Path) -> None:
    ca = TeamCA.load_or_create(tmp_path, "acme")
    assert stat.S_IMODE((tmp_path / CA_KEY_FILE).stat().st_mode) == 0o600
    again = TeamCA.load_or_create(tmp_path, "acme")
    assert again.fingerprint == ca.fingerprint
    assert ca.fingerprint.startswith("sha256:") and len(ca.fingerprint) == 7 + 64
    constraints = ca.cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert constraints.ca


def test_mismatched_files_are_refused(tmp_path: Path) -> None:
    TeamCA.load_or_create(tmp_path / "a", "a")
    TeamCA.load_or_create(tmp_path / "b", "b")
    (tmp_path / "a" / "ca.pem").write_bytes((tmp_path / "b" / "ca.pem").read_bytes())
    with pytest.raises(CaError, match="do not belong together"):
        TeamCA.load(tmp_path / "a")


def test_garbage_files_are_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("junk")
    (tmp_path / "ca.key").write_text("junk")
    with pytest.raises(CaError):
        TeamCA.load(tmp_path)


def test_leaf_names(tmp_path: Path) -> None:
    ca = TeamCA.create("acme")
    leaf = ca.issue_server_certificate(["*.acme.localhost", "127.0.0.1", "edge.example"])
    cert = x509.load_pem_x509_certificate(leaf.cert_pem)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "*.acme.localhost" in san.get_values_for_type(x509.DNSName)
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]


async def _handshake(server: ssl.SSLContext, client: ssl.SSLContext, sni: str) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"hello")
        await writer.drain()
        writer.close()

    srv = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=server)
    port = srv.sockets[0].getsockname()[1]
    try:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=client, server_hostname=sni
        )
        assert await reader.read() == b"hello"
        writer.close()
    finally:
        srv.close()
        await srv.wait_closed()


async def test_pinned_client_accepts_own_ca_and_refuses_another(tmp_path: Path) -> None:
    ca = TeamCA.create("acme")
    cert, key = write_certificate(
        tmp_path, "edge", ca.issue_server_certificate(["*.acme.localhost"])
    )
    server = server_context(cert, key)
    await _handshake(server, pinned_client_context(ca.cert_pem), "app.acme.localhost")
    stranger = TeamCA.create("other")
    with pytest.raises(ssl.SSLCertVerificationError):
        await _handshake(server, pinned_client_context(stranger.cert_pem), "app.acme.localhost")
    with pytest.raises(ssl.SSLCertVerificationError):
        await _handshake(server, pinned_client_context(ca.cert_pem), "app.other.localhost")
