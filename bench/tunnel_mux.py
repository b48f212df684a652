"""Tunnel mux throughput: Ramparts' sans-IO TunnelConnection vs pure-Python h2 (anchor).

Two in-memory endpoints each (no sockets, no TLS): bytes move sender -> receiver in 256 KiB
"reads" (asyncio's read size), the receiver acknowledges every byte it is handed, credit
flows back as WINDOW_UPDATE. Both sides use 4 MiB stream / 16 MiB connection windows and
64 KiB frames. Figures: one-stream bulk throughput, 1 KiB-write throughput, and
stream open -> response -> close rate.

    .venv/bin/python bench/tunnel_mux.py [--bytes N] [--seconds S]

h2 is a bench-only dependency (`.venv/bin/pip install h2`).
"""

from __future__ import annotations

import argparse
import time
import uuid
from collections.abc import Callable

from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.events import DataReceived as H2Data
from h2.events import ResponseReceived as H2Response
from h2.settings import SettingCodes

from ramparts.tunnel.protocol import (
    DataReceived,
    DialMeta,
    HttpRequestMeta,
    RegisteredInfo,
    RegisterRequest,
    ResponseHead,
    ResponseMeta,
    Role,
    StreamKind,
    StreamOpened,
    TunnelConnection,
)

READ_SIZE = 256 * 1024
STREAM_WINDOW = 4 * 1024 * 1024
CONNECTION_WINDOW = 16 * 1024 * 1024
FRAME_SIZE = 64 * 1024
BATCH = 64  # concurrent streams per round in the open/close test (h2 allows 100)
REQUEST_HEADERS = [
    (b"user-agent", b"curl/8.5.0"),
    (b"accept", b"*/*"),
    (b"cf-connecting-ip", b"203.0.113.7"),
    (b"x-forwarded-for", b"203.0.113.7"),
    (b"x-forwarded-proto", b"https"),
    (b"cf-ray", b"8f1e2d3c4b5a6978"),
]
RESPONSE_HEADERS = [(b"content-type", b"text/plain"), (b"content-length", b"2")]

Transfer = Callable[[bytes], int]  # send bytes to the receiver, returns bytes delivered


def feed(receive: Transfer, data: bytes) -> int:
    """Hand ``data`` to a receiver in READ_SIZE pieces, as socket reads would."""
    if len(data) <= READ_SIZE:
        return receive(data)
    return sum(receive(data[i : i + READ_SIZE]) for i in range(0, len(data), READ_SIZE))


# -- Ramparts -----------------------------------------------------------------------------


def ramparts_pair() -> tuple[TunnelConnection, TunnelConnection]:
    edge = TunnelConnection(Role.EDGE, max_data_frame=FRAME_SIZE)
    conn = TunnelConnection(Role.CONNECTOR, max_data_frame=FRAME_SIZE)
    conn.register(
        RegisterRequest(uuid.uuid4(), b"secret", uuid.uuid4(), 0, "bench", ("datagrams",))
    )
    edge.receive_data(conn.data_to_send())
    edge.accept_registration(RegisteredInfo(uuid.uuid4(), "bench-edge"))
    conn.receive_data(edge.data_to_send())
    return edge, conn


def ramparts_bulk(total: int, write_size: int, seconds: float) -> tuple[int, float]:
    edge, conn = ramparts_pair()
    sid = edge.open_stream(DialMeta(StreamKind.TCP, "ssh.example.com"))
    conn.receive_data(edge.data_to_send())
    conn.respond(sid, ResponseMeta())
    edge.receive_data(conn.data_to_send())
    payload = b"x" * write_size

    def to_connector(data: bytes) -> int:
        got = 0
        for event in conn.receive_data(data):
            if type(event) is DataReceived:
                n = len(event.data)
                got += n
                conn.acknowledge_received(event.stream_id, n)
        return got

    sent = received = 0
    start = time.perf_counter()
    deadline = start + seconds
    while received < total:
        while sent < total:
            room = edge.max_send(sid)
            if room <= 0:
                break
            chunk = payload if room >= write_size else payload[:room]
            edge.send_data(sid, chunk)
            sent += len(chunk)
        received += feed(to_connector, edge.data_to_send())
        back = conn.data_to_send()
        if back:
            edge.receive_data(back)
        if time.perf_counter() > deadline:
            break
    return received, time.perf_counter() - start


def ramparts_streams(seconds: float) -> tuple[int, float]:
    edge, conn = ramparts_pair()
    meta = HttpRequestMeta(
        "GET",
        "https",
        "app.example.com",
        "/api/items?page=2",
        tuple(REQUEST_HEADERS),
        "r1",
        "203.0.113.7",
    )
    response = ResponseMeta(200, tuple(RESPONSE_HEADERS))
    done = 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        for _ in range(BATCH):
            edge.open_stream(meta, end_stream=True)
        for event in conn.receive_data(edge.data_to_send()):
            if type(event) is StreamOpened:
                conn.respond(event.stream_id, response)
                conn.send_data(event.stream_id, b"ok", end_stream=True)
        for event in edge.receive_data(conn.data_to_send()):
            if type(event) is DataReceived:
                edge.acknowledge_received(event.stream_id, len(event.data))
            elif type(event) is ResponseHead:
                done += 1
        conn.receive_data(edge.data_to_send())
    assert edge.open_stream_count == 0, edge.open_stream_count
    return done, time.perf_counter() - start


# -- h2 (anchor) --------------------------------------------------------------------------


def h2_pair() -> tuple[H2Connection, H2Connection]:
    client = H2Connection(H2Configuration(client_side=True, header_encoding=None))
    server = H2Connection(H2Configuration(client_side=False, header_encoding=None))
    for side in (client, server):
        side.initiate_connection()
        side.update_settings(
            {
                SettingCodes.INITIAL_WINDOW_SIZE: STREAM_WINDOW,
                SettingCodes.MAX_FRAME_SIZE: FRAME_SIZE,
            }
        )
        side.increment_flow_control_window(CONNECTION_WINDOW - 65535)
    for _ in range(3):
        server.receive_data(client.data_to_send())
        client.receive_data(server.data_to_send())
    assert client.max_outbound_frame_size == FRAME_SIZE
    return client, server


def h2_bulk(total: int, write_size: int, seconds: float) -> tuple[int, float]:
    client, server = h2_pair()
    client.send_headers(
        1, [(b":method", b"POST"), (b":path", b"/"), (b":scheme", b"https"), (b":authority", b"x")]
    )
    server.receive_data(client.data_to_send())
    server.send_headers(1, [(b":status", b"200")])
    client.receive_data(server.data_to_send())
    payload = b"x" * write_size

    def to_server(data: bytes) -> int:
        got = 0
        for event in server.receive_data(data):
            if type(event) is H2Data:
                got += len(event.data)
                server.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        return got

    sent = received = 0
    start = time.perf_counter()
    deadline = start + seconds
    while received < total:
        while sent < total:
            room = client.local_flow_control_window(1)
            if room <= 0:
                break
            chunk = payload if room >= write_size else payload[:room]
            client.send_data(1, chunk)
            sent += len(chunk)
        received += feed(to_server, client.data_to_send())
        back = server.data_to_send()
        if back:
            client.receive_data(back)
        if time.perf_counter() > deadline:
            break
    return received, time.perf_counter() - start


def h2_streams(seconds: float) -> tuple[int, float]:
    client, server = h2_pair()
    request = [
        (b":method", b"GET"),
        (b":scheme", b"https"),
        (b":authority", b"app.example.com"),
        (b":path", b"/api/items?page=2"),
        *REQUEST_HEADERS,
    ]
    response = [(b":status", b"200"), *RESPONSE_HEADERS]
    done = 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        for _ in range(BATCH):
            client.send_headers(client.get_next_available_stream_id(), request, end_stream=True)
        for event in server.receive_data(client.data_to_send()):
            if type(event).__name__ == "RequestReceived":
                server.send_headers(event.stream_id, response)
                server.send_data(event.stream_id, b"ok", end_stream=True)
        for event in client.receive_data(server.data_to_send()):
            if type(event) is H2Data:
                client.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif type(event) is H2Response:
                done += 1
        server.receive_data(client.data_to_send())
    return done, time.perf_counter() - start


# -- report -------------------------------------------------------------------------------


def gbits(moved: int, elapsed: float) -> float:
    return moved * 8 / elapsed / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bytes", type=int, default=1 << 30, help="bulk bytes (1 GiB)")
    parser.add_argument("--seconds", type=float, default=6.0, help="time cap per bulk run")
    args = parser.parse_args()

    rows = [
        ("bulk, one stream, 64 KiB writes", 64 * 1024, args.bytes, args.seconds),
        ("small frames, 1 KiB writes", 1024, 256 << 20, args.seconds / 2),
    ]
    for label, write, total, cap in rows:
        ours_b, ours_t = ramparts_bulk(total, write, cap)
        h2_b, h2_t = h2_bulk(total, write, cap)
        ours, anchor = gbits(ours_b, ours_t), gbits(h2_b, h2_t)
        print(
            f"{label}: ramparts {ours:.2f} Gbit/s ({ours_b >> 20} MiB in {ours_t:.2f} s)"
            f" vs h2 {anchor:.2f} Gbit/s ({h2_b >> 20} MiB in {h2_t:.2f} s)"
            f" = {ours / anchor:.1f}x"
        )
    ours_n, ours_t = ramparts_streams(2.0)
    h2_n, h2_t = h2_streams(2.0)
    ours_rate, h2_rate = ours_n / ours_t, h2_n / h2_t
    print(
        f"stream open -> response -> close: ramparts {ours_rate:,.0f}/s vs h2 {h2_rate:,.0f}/s"
        f" = {ours_rate / h2_rate:.1f}x"
    )


if __name__ == "__main__":
    main()
