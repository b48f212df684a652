"""Hostile bytes into the frame decoder: a result, or TunnelProtocolError, never anything else."""

from __future__ import annotations

import contextlib
import itertools
import os
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ramparts.tunnel.protocol import (
    ConnectionClosed,
    DataReceived,
    DialMeta,
    ErrorCode,
    HttpRequestMeta,
    RegisteredInfo,
    RegisterReceived,
    RegisterRequest,
    ResponseMeta,
    Role,
    StreamClosed,
    StreamKind,
    StreamOpened,
    TunnelConnection,
    TunnelProtocolError,
)
from ramparts.tunnel.protocol.frames import HEADER, FrameType

EXAMPLES = int(os.environ.get("TUNNEL_FUZZ_EXAMPLES", "300"))  # raise for a long soak
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
REQUEST = RegisterRequest(uuid.UUID(int=1), b"secret", uuid.UUID(int=2), 0, "fuzz")


def _fresh(role: Role, registered: bool) -> TunnelConnection:
    """An edge or connector at the start, or just after registration."""
    if not registered:
        conn = TunnelConnection(role)
        if role is Role.CONNECTOR:
            conn.register(REQUEST)
            conn.data_to_send()
        return conn
    edge, connector = TunnelConnection(Role.EDGE), TunnelConnection(Role.CONNECTOR)
    connector.register(REQUEST)
    edge.receive_data(connector.data_to_send())
    edge.accept_registration(RegisteredInfo(uuid.UUID(int=3), "e"))
    connector.receive_data(edge.data_to_send())
    return edge if role is Role.EDGE else connector


def _drive(conn: TunnelConnection, chunks: list[bytes]) -> list:
    """Feed chunks like a driver would (accepting, acknowledging data, answering opens)."""
    seen: list = []
    error = None
    for chunk in chunks:
        try:
            events = conn.receive_data(chunk)
        except TunnelProtocolError as exc:
            error = exc
            seen += exc.events
            break
        for event in events:
            if isinstance(event, RegisterReceived):
                conn.accept_registration(RegisteredInfo(uuid.UUID(int=3), "e"))
                _open_streams(conn)  # as in the transcript, so its answers match
            elif isinstance(event, DataReceived):
                conn.acknowledge_received(event.stream_id, len(event.data))
            elif isinstance(event, StreamOpened):
                # may be reset, or the connection closed by a GOAWAY, later in the same batch:
                # a real driver sees the same race
                with contextlib.suppress(StreamClosed, ConnectionClosed):
                    conn.respond(event.stream_id, ResponseMeta())
        seen += events
        conn.data_to_send()
    if error is not None:
        assert isinstance(error.code, ErrorCode)
        assert conn.is_closed
        assert conn.receive_data(b"\x00" * 20) == []
    return seen


def _open_streams(edge: TunnelConnection) -> tuple[int, int]:
    http = edge.open_stream(
        HttpRequestMeta("GET", "https", "h.example", "/p", ((b"a", b"b"),), "r", "1.2.3.4"),
        end_stream=True,
    )
    return http, edge.open_stream(DialMeta(StreamKind.TCP, "ssh.example"))


def _transcript() -> tuple[bytes, bytes]:
    """A valid conversation: (edge -> connector bytes, connector -> edge bytes)."""
    edge, connector = TunnelConnection(Role.EDGE), TunnelConnection(Role.CONNECTOR)
    to_conn, to_edge = bytearray(), bytearray()

    def pump() -> None:
        for _ in range(20):
            a, b = edge.data_to_send(), connector.data_to_send()
            if not a and not b:
                return
            to_conn.extend(a)
            to_edge.extend(b)
            for event in connector.receive_data(a):
                if isinstance(event, DataReceived):
                    connector.acknowledge_received(event.stream_id, len(event.data))
            for event in edge.receive_data(b):
                if isinstance(event, DataReceived):
                    edge.acknowledge_received(event.stream_id, len(event.data))

    connector.register(REQUEST)
    pump()
    edge.accept_registration(RegisteredInfo(uuid.UUID(int=3), "edge"))
    pump()
    http, tcp = _open_streams(edge)
    edge.send_data(tcp, b"client hello" * 20)
    edge.ping(b"pingpong")
    edge.push_config(1, b'{"ingress": []}')
    edge.send_datagram(5, b"udp payload")
    pump()
    connector.respond(http, ResponseMeta(200, ((b"content-type", b"text/html"),)))
    connector.send_data(http, b"<html>" * 40, end_stream=True)
    connector.respond(tcp, ResponseMeta())
    connector.send_data(tcp, b"server hello")
    connector.ack_config(1, applied=True)
    pump()
    edge.reset_stream(tcp)
    edge.goaway("bye")
    connector.goaway("bye too")
    pump()
    return bytes(to_conn), bytes(to_edge)


TO_CONNECTOR, TO_EDGE = _transcript()
REGISTER_END = HEADER.size + HEADER.unpack_from(TO_EDGE)[3]
roles = st.sampled_from([Role.EDGE, Role.CONNECTOR])


@FUZZ
@given(roles, st.booleans(), st.lists(st.binary(max_size=64), max_size=8))
def test_arbitrary_bytes(role, registered, chunks):
    _drive(_fresh(role, registered), chunks)


@FUZZ
@given(
    roles,
    st.lists(
        st.tuples(
            st.sampled_from([*FrameType, 0, 0xFF]),
            st.integers(0, 255),
            st.sampled_from([0, 1, 2, 3, 5, 2**32 - 1]),
            st.binary(max_size=40),
        ),
        max_size=10,
    ),
)
def test_well_framed_garbage(role, frames):
    """Valid headers with random types, flags, ids and payloads reach every handler."""
    wire = b"".join(HEADER.pack(t, f, s, len(p)) + p for t, f, s, p in frames)
    _drive(_fresh(role, registered=True), [wire])


mutation = st.tuples(
    st.sampled_from(["flip", "insert", "delete", "truncate"]),
    st.integers(min_value=0),
    st.integers(0, 255),
)


def _mutate(data: bytes, mutations: list[tuple[str, int, int]]) -> bytes:
    buf = bytearray(data)
    for kind, where, value in mutations:
        if not buf:
            break
        at = where % len(buf)
        if kind == "flip":
            buf[at] ^= value or 1
        elif kind == "insert":
            buf.insert(at, value)
        elif kind == "delete":
            del buf[at]
        else:
            del buf[at:]
    return bytes(buf)


def _splits(data: bytes, cuts: list[int], first: int = 0) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, min(first, len(data)), len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


@FUZZ
@given(roles, st.lists(mutation, min_size=1, max_size=4), st.lists(st.integers(0), max_size=6))
def test_mutated_conversation(role, mutations, cuts):
    if role is Role.CONNECTOR:
        wire = _mutate(TO_CONNECTOR, mutations)
        _drive(_fresh(Role.CONNECTOR, registered=False), _splits(wire, cuts))
    else:
        wire = _mutate(TO_EDGE, mutations)
        _drive(_fresh(Role.EDGE, registered=False), _splits(wire, cuts, REGISTER_END))


def _merged(events: list) -> list:
    """Events with consecutive DataReceived of one stream joined (read sizes differ)."""
    out: list = []
    for event in events:
        if (
            isinstance(event, DataReceived)
            and out
            and isinstance(out[-1], DataReceived)
            and out[-1].stream_id == event.stream_id
        ):
            out[-1] = DataReceived(event.stream_id, out[-1].data + event.data)
        else:
            out.append(event)
    return out


@FUZZ
@given(st.lists(st.integers(0), max_size=30))
def test_read_boundaries_do_not_change_events(cuts):
    whole = _drive(_fresh(Role.CONNECTOR, registered=False), [TO_CONNECTOR])
    split = _drive(_fresh(Role.CONNECTOR, registered=False), _splits(TO_CONNECTOR, cuts))
    assert _merged(split) == _merged(whole)
    whole = _drive(_fresh(Role.EDGE, registered=False), _splits(TO_EDGE, [], REGISTER_END))
    split = _drive(_fresh(Role.EDGE, registered=False), _splits(TO_EDGE, cuts, REGISTER_END))
    assert _merged(split) == _merged(whole)
    assert len(whole) > 8  # the whole conversation was understood
