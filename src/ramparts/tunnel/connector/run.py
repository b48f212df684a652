"""Running a connector process: supervisor + origin proxy + admin listener + reloads."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass, replace

from ramparts.serving import AsgiServer
from ramparts.tunnel.connector.config import ConnectorConfig, load_config, parse_remote_config
from ramparts.tunnel.connector.errors import ConfigError
from ramparts.tunnel.connector.ingress import IngressRules
from ramparts.tunnel.connector.metrics import ConnectorMetrics, admin_app
from ramparts.tunnel.connector.proxy import OriginProxy
from ramparts.tunnel.connector.supervisor import ConnectorSupervisor
from ramparts.tunnel.token import ConnectorToken

log = logging.getLogger(__name__)

DEFAULT_METRICS = ("127.0.0.1", 0)  # a free port, printed at start (replicas can share a host)


@dataclass(slots=True)
class RunningConnector:
    supervisor: ConnectorSupervisor
    proxy: OriginProxy
    admin: AsgiServer
    config: ConnectorConfig
    rules: IngressRules
    metrics: ConnectorMetrics
    remote_version: int = 0

    @property
    def metrics_address(self) -> str:
        return self.admin.address

    def apply_remote(self, version: int, snapshot: bytes) -> tuple[bool, str]:
        """A configuration pushed by the control plane (every HA connection delivers it; the
        first applies it). Local ingress rules (a config file or --url) take precedence."""
        if self.config.ingress is not None:
            return False, "local ingress rules take precedence over remote configuration"
        if version <= self.remote_version:
            return True, "already applied"
        try:
            rules = parse_remote_config(json.loads(snapshot))
        except (ConfigError, ValueError) as exc:
            log.error(
                "remote configuration rejected", extra={"version": version, "reason": str(exc)}
            )
            return False, str(exc)[:500]
        self.rules = rules
        self.remote_version = version
        self.metrics.config_version.set(version)
        log.info("remote configuration applied", extra={"version": version, "rules": len(rules)})
        return True, ""

    def reload(self) -> None:
        """SIGHUP: re-read the config file and swap the ingress rules (in-flight work keeps the
        rules it matched); a broken file is logged and the old rules stay."""
        if self.config.source is None:
            log.info("no config file to reload")
            return
        try:
            fresh = load_config(self.config.source, read_credentials=False)
        except ConfigError as exc:
            log.error(
                "config reload failed; keeping the previous rules", extra={"reason": str(exc)}
            )
            return
        if fresh.ingress is not None:
            self.rules = fresh.ingress
            self.config = replace(self.config, ingress=fresh.ingress)
            log.info("ingress rules reloaded", extra={"rules": len(fresh.ingress)})


async def start_connector(config: ConnectorConfig, token: ConnectorToken) -> RunningConnector:
    rules = config.ingress if config.ingress is not None else IngressRules.unconfigured()
    holder: list[RunningConnector] = []

    def current_rules() -> IngressRules:
        return holder[0].rules if holder else rules

    metrics = ConnectorMetrics()
    proxy = OriginProxy(current_rules)
    supervisor = ConnectorSupervisor(token, proxy.handle, ha_connections=config.ha_connections)
    host, port = (config.metrics.host, config.metrics.port) if config.metrics else DEFAULT_METRICS
    admin = AsgiServer(
        "connector-admin",
        admin_app(metrics, lambda: supervisor.registered_count, str(supervisor.connector_id)),
        host,
        port,
        drain_timeout=1.0,
    )
    await admin.start()
    running = RunningConnector(supervisor, proxy, admin, config, rules, metrics)
    holder.append(running)
    supervisor.on_config = running.apply_remote
    supervisor.start()
    for warning in config.warnings:
        log.warning("config", extra={"warning": warning})
    log.info(
        "connector started",
        extra={
            "tunnel": token.tunnel_id,
            "connector": str(supervisor.connector_id),
            "edges": list(token.edge_addresses),
            "ha_connections": config.ha_connections,
            "metrics": admin.address,
        },
    )
    return running


async def run_until_stopped(
    config: ConnectorConfig,
    token: ConnectorToken,
    stop: asyncio.Event,
    announce: Callable[[RunningConnector], None] | None = None,
) -> int:
    running = await start_connector(config, token)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGHUP, running.reload)
    try:
        if announce is not None:
            announce(running)
        await stop.wait()
        log.info("unregistering and draining", extra={"grace_period": config.grace_period})
        await running.supervisor.shutdown(config.grace_period)
    finally:
        loop.remove_signal_handler(signal.SIGHUP)
        with contextlib.suppress(Exception):
            await running.proxy.close()
        await running.admin.stop()
    log.info("connector stopped")
    return 0
