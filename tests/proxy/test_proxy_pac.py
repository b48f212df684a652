"""proxy/pac.py: the generated PAC file, run by a real JavaScript engine (node) with the
classic PAC helper functions, and the checks of custom PAC files."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from ramparts.config.proxy import ProxyConfigError, endpoint_entry
from ramparts.proxy.pac import (
    MAX_PAC_BYTES,
    PAC_CONTENT_TYPE,
    default_pac,
    render_pac,
    validate_pac,
)

NODE = shutil.which("node")

# The PAC runtime of browsers (Netscape's functions), enough for the generated file: names
# resolve from the test's table and an unknown name gives null, as in Chromium.
PAC_RUNTIME = r"""
const vm = require("vm");
const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
const table = input.dns;
function ipInt(s) {
  return s.split(".").reduce((acc, part) => ((acc << 8) | Number(part)) >>> 0, 0);
}
function resolve(h) {
  return /^\d+\.\d+\.\d+\.\d+$/.test(h) ? h : (table[h] === undefined ? null : table[h]);
}
const sandbox = {
  isPlainHostName: (h) => h.indexOf(".") < 0,
  dnsDomainIs: (h, d) => h.length >= d.length && h.substring(h.length - d.length) === d,
  shExpMatch: (s, p) => new RegExp("^" + p.replace(/[.+^${}()|[\]\\]/g, "\\$&")
      .replace(/\*/g, ".*").replace(/\?/g, ".") + "$").test(s),
  dnsResolve: (h) => { input.resolved.push(h); return resolve(h); },
  isInNet: (h, pattern, mask) => {
    const ip = resolve(h);
    if (ip === null) return false;
    return ((ipInt(ip) & ipInt(mask)) >>> 0) === ((ipInt(pattern) & ipInt(mask)) >>> 0);
  },
};
input.resolved = [];
vm.createContext(sandbox);
vm.runInContext(input.pac, sandbox, { filename: "proxy.pac" });
const out = input.cases.map(([url, host]) => sandbox.FindProxyForURL(url, host));
process.stdout.write(JSON.stringify({ results: out, resolved: input.resolved }));
"""


def run_pac(pac: str, cases: list[tuple[str, str]], dns: dict[str, str]) -> dict[str, list[str]]:
    assert NODE is not None
    done = subprocess.run(
        [NODE, "-e", PAC_RUNTIME],
        input=json.dumps({"pac": pac, "cases": cases, "dns": dns}),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, list[str]] = json.loads(done.stdout)
    return result


GENERATED = default_pac(
    proxy_http="127.0.0.1:7846",
    proxy_https="proxy.acme.localhost:7847",
    direct_domains=["acme.localhost", "*.idp.example.com", "Login.Example.ORG.", 'x";alert(1);"'],
)


def test_generated_pac_structure() -> None:
    assert PAC_CONTENT_TYPE == "application/x-ns-proxy-autoconfig"
    assert "function FindProxyForURL(url, host)" in GENERATED
    assert '"HTTPS proxy.acme.localhost:7847; PROXY 127.0.0.1:7846"' in GENERATED
    assert '["acme.localhost", "idp.example.com", "login.example.org"]' in GENERATED
    assert "alert" not in GENERATED  # a name that is not a domain is dropped, not quoted
    assert validate_pac(GENERATED) == GENERATED
    plain_only = default_pac(proxy_http="[::1]:3128", proxy_https=None, direct_domains=[])
    assert '"PROXY [::1]:3128"' in plain_only and "HTTPS" not in plain_only.split("PROXY =")[1][:40]


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_generated_pac_routes_in_a_javascript_engine() -> None:
    dns = {
        "intranet.corp.test": "10.2.3.4",
        "printer.corp.test": "192.168.1.20",
        "nas.corp.test": "172.20.0.9",
        "router.corp.test": "169.254.1.1",
        "loop.corp.test": "127.0.0.53",
        "www.example.com": "93.184.215.14",
        "edge.test": "172.15.255.255",  # just outside 172.16.0.0/12
    }
    via_proxy = "HTTPS proxy.acme.localhost:7847; PROXY 127.0.0.1:7846"
    cases = {
        ("http://wiki/", "wiki"): "DIRECT",  # plain host name
        ("http://localhost:8080/", "localhost"): "DIRECT",
        ("https://app.acme.localhost/", "app.acme.localhost"): "DIRECT",
        ("https://ACME.localhost/", "ACME.localhost"): "DIRECT",
        ("https://sso.idp.example.com/", "sso.idp.example.com"): "DIRECT",
        ("https://idp.example.com/", "idp.example.com"): "DIRECT",
        ("https://notidp.example.com/", "notidp.example.com"): via_proxy,
        ("https://login.example.org/a", "login.example.org"): "DIRECT",
        ("http://intranet.corp.test/", "intranet.corp.test"): "DIRECT",
        ("http://printer.corp.test/", "printer.corp.test"): "DIRECT",
        ("http://nas.corp.test/", "nas.corp.test"): "DIRECT",
        ("http://router.corp.test/", "router.corp.test"): "DIRECT",
        ("http://loop.corp.test/", "loop.corp.test"): "DIRECT",
        ("http://10.9.8.7/", "10.9.8.7"): "DIRECT",
        ("http://100.64.1.1/", "100.64.1.1"): "DIRECT",
        ("https://www.example.com/", "www.example.com"): via_proxy,
        ("https://edge.test/", "edge.test"): via_proxy,
        ("http://8.8.8.8/", "8.8.8.8"): via_proxy,
        # Unresolvable names (dnsResolve gives null) go to the proxy, which resolves them.
        ("https://allowed.example.test/", "allowed.example.test"): via_proxy,
        ("http://[::1]/", "[::1]"): "DIRECT",
        ("http://[fe80::1]/", "fe80::1"): "DIRECT",
        ("http://[fd00::5]/", "fd00::5"): "DIRECT",
        ("http://[2001:db8::1]/", "2001:db8::1"): via_proxy,
    }
    out = run_pac(GENERATED, list(cases), dns)
    assert dict(zip(cases, out["results"], strict=True)) == cases
    # IP literals and DIRECT names are decided without a DNS lookup.
    assert "10.9.8.7" not in out["resolved"] and "sso.idp.example.com" not in out["resolved"]


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_custom_pac_is_served_as_given() -> None:
    custom = 'function FindProxyForURL(url, host) { return "PROXY 192.0.2.1:8080"; }\n'
    entry = endpoint_entry(
        id="abcdefghij",
        name="office",
        kind="source_ip",
        networks=["10.0.0.0/8"],
        allow_private_destinations=False,
        connect_ports=[443],
        tls_inspection=False,
        pac=custom,
    )
    assert render_pac(entry, proxy_http="127.0.0.1:1", proxy_https=None, direct_domains=[]) == (
        custom
    )
    (result,) = run_pac(custom, [("http://x.test/", "x.test")], {})["results"]
    assert result == "PROXY 192.0.2.1:8080"
    generated = render_pac(
        endpoint_entry(
            id="abcdefghij",
            name="office",
            kind="source_ip",
            networks=["10.0.0.0/8"],
            allow_private_destinations=False,
            connect_ports=[443],
            tls_inspection=False,
            pac="",
        ),
        proxy_http="127.0.0.1:7846",
        proxy_https=None,
        direct_domains=[],
    )
    assert run_pac(generated, [("http://x.test/", "x.test")], {})["results"] == [
        "PROXY 127.0.0.1:7846"
    ]


def test_default_pac_needs_a_valid_proxy_address() -> None:
    with pytest.raises(ProxyConfigError, match="no proxy address"):
        default_pac(proxy_http=None, proxy_https=None, direct_domains=[])
    for bad in ("127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000", 'a:1"; DIRECT', "a b:80", "::1:80"):
        with pytest.raises(ProxyConfigError):
            default_pac(proxy_http=bad, proxy_https=None, direct_domains=[])


def test_validate_pac_limits() -> None:
    body = "function FindProxyForURL(url, host) { return 'DIRECT'; }"
    assert validate_pac(body) == body
    with pytest.raises(ProxyConfigError, match="FindProxyForURL"):
        validate_pac("function main() {}")
    with pytest.raises(ProxyConfigError, match="NUL"):
        validate_pac(body + "\x00")
    with pytest.raises(ProxyConfigError, match="at most"):
        validate_pac(body + "//" + "x" * MAX_PAC_BYTES)
    fits = body + "//" + "é" * ((MAX_PAC_BYTES - len(body) - 2) // 2)
    assert validate_pac(fits) == fits
    with pytest.raises(ProxyConfigError, match="UTF-8"):
        validate_pac(body + "\ud800")
