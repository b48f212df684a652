"""HTTP/1.1 parsing throughput: Ramparts' sans-IO http1 vs h11 (pure Python, the anchor)
and httptools (llhttp in C, if installed), measured in the same run on one core.

Figures (ops/s, best of 9 short rounds):
  request head      a ~500-byte browser request head with 12 fields, fresh connection
                    object each time (ours: ServerConnection; h11: Connection(SERVER);
                    httptools: HttpRequestParser with header callbacks into a list)
  head parser only  ours: parse_request_head(); no connection bookkeeping
  keep-alive cycle  parse the request and write a 200 response head + 2-byte body on one
                    connection object, as a server loop does; successive requests differ in
                    one cookie value
    same fields     the same, every request byte-identical (a load generator; ours then
                    reuses the previous field parse, see ramparts/http1/memo.py)
  response head     a typical origin response head (10 fields): ours/h11 write the request
                    and parse the response on a client connection (successive Date values
                    differ); httptools parses only
    same fields     the same, every response byte-identical
  response parser   ours: parse_response_head() only
  pipelined x16     16 GET requests arriving in one read, all parsed (ours/h11 answer each
                    to move on; httptools parses the batch in one call)

    .venv/bin/python bench/http1.py [--seconds S]

h11 is installed with httpx; httptools is bench-only (`.venv/bin/pip install httptools`).
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import Any

import h11

from ramparts.http1 import (
    CLIENT_LIMITS,
    SERVER_LIMITS,
    ClientConnection,
    EndOfMessage,
    Request,
    Response,
    ServerConnection,
    parse_request_head,
    parse_response_head,
)

try:
    import httptools  # type: ignore[import-not-found, unused-ignore]
except ImportError:  # pragma: no cover - optional anchor
    httptools = None

REQUEST = (
    b"GET /wiki/Special:Search?search=http+parser&go=Go HTTP/1.1\r\n"
    b"Host: en.wikipedia.org\r\n"
    b"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n"
    b"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
    b"Accept-Language: en-US,en;q=0.5\r\n"
    b"Accept-Encoding: gzip, deflate, br, zstd\r\n"
    b"Referer: https://en.wikipedia.org/wiki/Main_Page\r\n"
    b"Connection: keep-alive\r\n"
    b"Cookie: WMF-Last-Access=01-Jan-2025; GeoIP=US:CA:San_Francisco:37.77:-122.42:v4\r\n"
    b"Upgrade-Insecure-Requests: 1\r\n"
    b"Sec-Fetch-Dest: document\r\n"
    b"Sec-Fetch-Mode: navigate\r\n"
    b"Sec-Fetch-Site: same-origin\r\n"
    b"\r\n"
)
RESPONSE = (
    b"HTTP/1.1 200 OK\r\n"
    b"Date: Wed, 01 Jan 2025 12:00:00 GMT\r\n"
    b"Content-Type: text/html; charset=UTF-8\r\n"
    b"Content-Length: 2\r\n"
    b"Connection: keep-alive\r\n"
    b"Cache-Control: private, s-maxage=0, max-age=0, must-revalidate\r\n"
    b"Last-Modified: Tue, 31 Dec 2024 23:59:59 GMT\r\n"
    b"Vary: Accept-Encoding, Cookie\r\n"
    b"Server: nginx/1.26.2\r\n"
    b"X-Content-Type-Options: nosniff\r\n"
    b"Strict-Transport-Security: max-age=106384710; includeSubDomains; preload\r\n"
    b"\r\n"
    b"ok"
)
VARIANTS = 8
REQUESTS = [
    REQUEST.replace(b"WMF-Last-Access=01", b"WMF-Last-Access=%02d" % i) for i in range(VARIANTS)
]
RESPONSES = [RESPONSE.replace(b"12:00:00", b"12:00:%02d" % i) for i in range(VARIANTS)]
"""Heads that differ in one field each, as successive requests of real clients do."""
PIPELINE_DEPTH = 16
SMALL_GET = (
    b"GET /api/items?page=%d HTTP/1.1\r\nHost: api.example.com\r\n"
    b"User-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n"
)
PIPELINE = b"".join(SMALL_GET % i for i in range(PIPELINE_DEPTH))
ORIGIN_REQUEST_HEADERS = [(b"Host", b"en.wikipedia.org"), (b"Accept", b"*/*")]
RESPONSE_HEADERS = [(b"Content-Type", b"text/plain"), (b"Content-Length", b"2")]


def rate(op: Callable[[], Any], seconds: float, rounds: int = 9) -> float:
    """Best ops/s over ``rounds`` timed runs of about ``seconds`` each (the best round is
    the one least disturbed by other processes on a shared machine)."""
    best = 0.0
    batch = 1
    while True:  # calibrate a batch that takes ~20 ms
        start = time.perf_counter()
        for _ in range(batch):
            op()
        if time.perf_counter() - start > 0.02:
            break
        batch *= 2
    for _ in range(rounds):
        count = 0
        start = time.perf_counter()
        deadline = start + seconds
        while True:
            for _ in range(batch):
                op()
            count += batch
            now = time.perf_counter()
            if now >= deadline:
                break
        best = max(best, count / (now - start))
    return best


# -- ours ------------------------------------------------------------------------------


def ours_request() -> None:
    conn = ServerConnection()
    conn.feed(REQUEST)
    request = conn.next_event()
    assert type(request) is Request
    conn.next_event()


HEAD_ONLY = REQUEST[:-2]


def ours_head_parser() -> None:
    parse_request_head(HEAD_ONLY, SERVER_LIMITS)


RESPONSE_HEAD_ONLY = RESPONSE[: RESPONSE.index(b"\r\n\r\n") + 2]


def ours_response_parser() -> None:
    parse_response_head(RESPONSE_HEAD_ONLY, b"GET", CLIENT_LIMITS)


def ours_cycle_factory(requests: list[bytes]) -> Callable[[], None]:
    conn = ServerConnection()
    turn = [0]

    def cycle() -> None:
        conn.feed(requests[turn[0] % len(requests)])
        turn[0] += 1
        conn.next_event()
        conn.next_event()
        conn.send_response(200, RESPONSE_HEADERS)
        conn.send_data(b"ok")
        conn.send_end()

    return cycle


def ours_response_factory(responses: list[bytes]) -> Callable[[], None]:
    conn = ClientConnection()
    turn = [0]

    def cycle() -> None:
        conn.send_request(b"GET", b"/wiki/Main_Page", ORIGIN_REQUEST_HEADERS)
        conn.send_end()
        conn.feed(responses[turn[0] % len(responses)])
        turn[0] += 1
        response = conn.next_event()
        assert type(response) is Response
        conn.next_event()
        conn.next_event()

    return cycle


def ours_pipeline() -> None:
    conn = ServerConnection()
    conn.feed(PIPELINE)
    for _ in range(PIPELINE_DEPTH):
        conn.next_event()
        conn.next_event()
        conn.send_response(204, [])
        conn.send_end()


# -- h11 -------------------------------------------------------------------------------


def h11_request() -> None:
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(REQUEST)
    request = conn.next_event()
    assert type(request) is h11.Request
    conn.next_event()


def h11_cycle_factory(requests: list[bytes]) -> Callable[[], None]:
    conn = h11.Connection(h11.SERVER)
    turn = [0]

    def cycle() -> None:
        conn.receive_data(requests[turn[0] % len(requests)])
        turn[0] += 1
        conn.next_event()
        conn.next_event()
        conn.send(h11.Response(status_code=200, headers=RESPONSE_HEADERS))
        conn.send(h11.Data(data=b"ok"))
        conn.send(h11.EndOfMessage())
        conn.start_next_cycle()

    return cycle


def h11_response_factory(responses: list[bytes]) -> Callable[[], None]:
    conn = h11.Connection(h11.CLIENT)
    turn = [0]

    def cycle() -> None:
        conn.send(
            h11.Request(method=b"GET", target=b"/wiki/Main_Page", headers=ORIGIN_REQUEST_HEADERS)
        )
        conn.send(h11.EndOfMessage())
        conn.receive_data(responses[turn[0] % len(responses)])
        turn[0] += 1
        response = conn.next_event()
        assert type(response) is h11.Response
        conn.next_event()
        conn.next_event()
        conn.start_next_cycle()

    return cycle


def h11_pipeline() -> None:
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(PIPELINE)
    for _ in range(PIPELINE_DEPTH):
        conn.next_event()
        conn.next_event()
        conn.send(h11.Response(status_code=204, headers=[]))
        conn.send(h11.EndOfMessage())
        conn.start_next_cycle()


# -- httptools -------------------------------------------------------------------------


class _Collector:
    """Callbacks as a server built on httptools needs them: URL, header list, completion."""

    __slots__ = ("complete", "headers", "url")

    def __init__(self) -> None:
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.complete = 0

    def on_url(self, url: bytes) -> None:
        self.url = url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.lower(), value))

    def on_message_complete(self) -> None:
        self.complete += 1


def httptools_request() -> None:
    collector = _Collector()
    httptools.HttpRequestParser(collector).feed_data(REQUEST)
    assert collector.complete == 1


def httptools_response() -> None:
    collector = _Collector()
    httptools.HttpResponseParser(collector).feed_data(RESPONSE)
    assert collector.complete == 1


def httptools_pipeline() -> None:
    collector = _Collector()
    httptools.HttpRequestParser(collector).feed_data(PIPELINE)
    assert collector.complete == PIPELINE_DEPTH


# -- report ----------------------------------------------------------------------------


def check_equivalence() -> None:
    """The three parsers read the benchmark messages the same way."""
    conn = ServerConnection()
    conn.feed(REQUEST)
    ours = conn.next_event()
    assert isinstance(ours, Request)
    assert isinstance(conn.next_event(), EndOfMessage)
    theirs = h11.Connection(h11.SERVER)
    theirs.receive_data(REQUEST)
    event = theirs.next_event()
    assert isinstance(event, h11.Request)
    assert list(event.headers) == ours.headers
    assert event.target == ours.target
    if httptools is not None:
        collector = _Collector()
        httptools.HttpRequestParser(collector).feed_data(REQUEST)
        assert collector.headers == ours.headers
        assert collector.url == ours.target


def report(name: str, ours: float, anchors: list[tuple[str, float]]) -> None:
    parts = [f"{name:<18} ours {ours:>10,.0f}/s"]
    for label, value in anchors:
        parts.append(f"{label} {value:>10,.0f}/s = {ours / value:5.2f}x")
    print("  |  ".join(parts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=0.15, help="per timed round")
    args = parser.parse_args()
    seconds = args.seconds
    check_equivalence()
    request_fields = REQUEST.count(b"\r\n") - 2
    response_head = RESPONSE.index(b"\r\n\r\n") + 4
    print(
        f"request head {len(REQUEST)} B / {request_fields} fields; response head "
        f"{response_head} B; pipeline {PIPELINE_DEPTH} x {len(PIPELINE) // PIPELINE_DEPTH} B"
    )
    print(
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (other processes "
        "slow every figure alike: compare the ratios); target: request head >= 200,000/s"
    )
    has_httptools = httptools is not None

    def with_httptools(op: Callable[[], Any]) -> list[tuple[str, float]]:
        return [("httptools", rate(op, seconds))] if has_httptools else []

    report(
        "request head",
        rate(ours_request, seconds),
        [("h11", rate(h11_request, seconds)), *with_httptools(httptools_request)],
    )
    report("head parser only", rate(ours_head_parser, seconds), with_httptools(httptools_request))
    for label, requests in (("keep-alive cycle", REQUESTS), ("  same fields", [REQUEST])):
        report(
            label,
            rate(ours_cycle_factory(requests), seconds),
            [("h11", rate(h11_cycle_factory(requests), seconds))],
        )
    for label, responses in (("response head", RESPONSES), ("  same fields", [RESPONSE])):
        report(
            label,
            rate(ours_response_factory(responses), seconds),
            [
                ("h11", rate(h11_response_factory(responses), seconds)),
                *with_httptools(httptools_response),
            ],
        )
    report(
        "response parser", rate(ours_response_parser, seconds), with_httptools(httptools_response)
    )
    ours = rate(ours_pipeline, seconds) * PIPELINE_DEPTH
    anchors = [("h11", rate(h11_pipeline, seconds) * PIPELINE_DEPTH)]
    if has_httptools:
        anchors.append(("httptools", rate(httptools_pipeline, seconds) * PIPELINE_DEPTH))
    report("pipelined x16 req", ours, anchors)
    if not has_httptools:
        print("(httptools not installed: `.venv/bin/pip install httptools` to compare)")


if __name__ == "__main__":
    main()
