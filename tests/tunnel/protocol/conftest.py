"""In-memory pump between an edge and a connector TunnelConnection."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from ramparts.tunnel.protocol import (
    Event,
    RegisteredInfo,
    RegisterReceived,
    RegisterRequest,
    Role,
    Settings,
    TunnelConnection,
)
from ramparts.tunnel.protocol.frames import HEADER

TUNNEL_ID = uuid.UUID("11111111-2222-3333-4444-555555555555")
CONNECTOR_ID = uuid.UUID("99999999-8888-7777-6666-555555555555")
SECRET = b"s3cret-tunnel-secret"


def register_request(secret: bytes = SECRET) -> RegisterRequest:
    return RegisterRequest(
        tunnel_id=TUNNEL_ID,
        secret=secret,
        connector_id=CONNECTOR_ID,
        connection_index=2,
        version="ramparts/0.1.0",
        features=("datagrams", "config-push"),
        extensions={"os": "linux"},
    )


@dataclass
class Pair:
    edge: TunnelConnection
    connector: TunnelConnection
    edge_events: list[Event] = field(default_factory=list)
    connector_events: list[Event] = field(default_factory=list)

    def pump(self, rounds: int = 100) -> None:
        """Move bytes both ways until both sides are quiet."""
        for _ in range(rounds):
            to_connector = self.edge.data_to_send()
            to_edge = self.connector.data_to_send()
            if not to_connector and not to_edge:
                return
            if to_connector:
                self.connector_events += self.connector.receive_data(to_connector)
            if to_edge:
                self.edge_events += self.edge.receive_data(to_edge)
        raise AssertionError("pump did not settle")

    def take(self) -> tuple[list[Event], list[Event]]:
        """Events collected since the last take: (edge's, connector's)."""
        edge, conn = self.edge_events, self.connector_events
        self.edge_events, self.connector_events = [], []
        return edge, conn


def make_pair(
    edge_settings: Settings | None = None,
    connector_settings: Settings | None = None,
    *,
    register: bool = True,
) -> Pair:
    pair = Pair(
        TunnelConnection(Role.EDGE, edge_settings),
        TunnelConnection(Role.CONNECTOR, connector_settings),
    )
    if register:
        pair.connector.register(register_request())
        pair.pump()
        edge_events, _ = pair.take()
        assert isinstance(edge_events[0], RegisterReceived)
        pair.edge.accept_registration(RegisteredInfo(uuid.uuid4(), "edge-a"))
        pair.pump()
        pair.take()
    return pair


@pytest.fixture
def pair() -> Pair:
    return make_pair()


@pytest.fixture(name="make_pair")
def make_pair_fixture() -> Callable[..., Pair]:
    return make_pair


@pytest.fixture(name="register_request")
def register_request_fixture() -> Callable[..., RegisterRequest]:
    return register_request


Frame = tuple[int, int, int, bytes]


def parse_frames(data: bytes) -> list[Frame]:
    """Split whole frames (type, flags, stream id, payload) out of sent bytes."""
    out: list[Frame] = []
    pos = 0
    while pos < len(data):
        ftype, flags, sid, length = HEADER.unpack_from(data, pos)
        pos += HEADER.size
        out.append((ftype, flags, sid, data[pos : pos + length]))
        pos += length
    assert pos == len(data)
    return out


@pytest.fixture(name="parse_frames")
def parse_frames_fixture() -> Callable[[bytes], list[Frame]]:
    return parse_frames
