#!/usr/bin/env bash
# Installs the Debian packages that the test suite drives for real (PostgreSQL server, curl).
# Only what is missing is installed; nothing is started here (the tests start their own servers).
set -euo pipefail
need=()
pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
if ! command -v initdb >/dev/null 2>&1 && [ -z "$(pg_bin)" ]; then need+=(postgresql); fi
command -v curl >/dev/null 2>&1 || need+=(curl)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)  # tunnel tests: real OpenSSH through a tunnel
command -v ssh >/dev/null 2>&1 || need+=(openssh-client)
# DNS tests and bench/dns.py: unbound as the local upstream, dig, kdig (DoT/DoH), dnsperf.
[ -x /usr/sbin/unbound ] || need+=(unbound)
command -v dig >/dev/null 2>&1 || need+=(bind9-dnsutils)
command -v kdig >/dev/null 2>&1 || need+=(knot-dnsutils)
command -v dnsperf >/dev/null 2>&1 || need+=(dnsperf)
# bench/proxy.py: squid and tinyproxy as the anchors, wrk as the load generator (nginx, the
# origin, is installed by the tunnel benches' helper when missing).
[ -x /usr/sbin/squid ] || need+=(squid)
command -v tinyproxy >/dev/null 2>&1 || need+=(tinyproxy)
command -v wrk >/dev/null 2>&1 || need+=(wrk)
# Access browser test: headless Chromium driven by Playwright (executable_path).
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then SUDO=sudo; else SUDO=; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
  # The proxies' packaged services would keep listening on 3128/8888: the bench runs its own
  # instances on loopback ports, so stop and disable them (a no-op where nothing started).
  for svc in squid tinyproxy; do
    if [[ " ${need[*]} " == *" $svc "* ]] && command -v systemctl >/dev/null 2>&1; then
      $SUDO systemctl disable --now "$svc" >/dev/null 2>&1 || true
    fi
  done
fi
