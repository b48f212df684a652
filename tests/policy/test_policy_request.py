"""Request builders: loosely typed input (CLI, API, wire) becomes a request or a RequestError."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ramparts.policy import Context, build_request, compile_expression, http_request
from ramparts.policy.fields import FIELDS
from ramparts.policy.request import RequestError

_VALUES = st.one_of(
    st.text(max_size=40),
    st.integers(-(10**6), 10**6),
    st.lists(st.text(max_size=10), max_size=3),
    st.sampled_from(
        ["10.0.0.1", "::1", "https://[::1]:8/a?b", "http://[bad/", "65536", "1" * 5000]
    ),
)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.sampled_from([*FIELDS, "identity.groups.name", "bogus"]), _VALUES))
def test_fuzz_build_request(values: dict[str, object]) -> None:
    try:
        request = build_request(values)
    except RequestError:
        return
    # Whatever was built can be evaluated by any compiled expression of a matching context.
    pred = compile_expression(
        'http.request.uri.path matches "^/a" or net.dst.port > 5', Context.HTTP
    )
    assert pred(request) in (True, False)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60), st.text(max_size=8))
def test_fuzz_http_request_from_wire(uri: str, method: str) -> None:
    request = http_request(uri, method)
    assert request["http.request.uri"] == uri
    assert isinstance(request.get("http.request.uri.path", ""), str)
