"""Test support: a Parley fleet on loopback, as docs/deploy.md runs one.

API nodes and gateways are separate ``parley serve --role ...`` processes over MariaDB
shards, Redis and a NATS JetStream stream of their own, behind HAProxy running
``deploy/haproxy.cfg``. Every name (databases, stream, ports) is fresh per fleet, and
:meth:`Fleet.close` removes what it made.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from slack_sdk import WebClient

from parley import admin
from parley.config import Settings
from parley.server import free_port
from tests.helpers import TEST_RATE_LIMIT, wait_healthy

ROOT = Path(__file__).resolve().parent.parent
MARIADB = os.environ.get("PARLEY_TEST_MARIADB", "root@127.0.0.1:3306")
REDIS_URL = os.environ.get("PARLEY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
NATS_URL = os.environ.get("PARLEY_TEST_NATS_URL", "nats://127.0.0.1:4222")


def _mariadb(sql: str) -> None:
    user, _, hostport = MARIADB.partition("@")
    host, _, port = hostport.partition(":")
    subprocess.run(
        ["mariadb", "-u", user, "-h", host, "-P", port or "3306", "-e", sql],
        check=True,
        capture_output=True,
        timeout=30,
    )


@dataclass
class Node:
    name: str
    role: str
    proc: subprocess.Popen
    port: int
    gateway_port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        return self.proc.poll() is None


@dataclass
class Fleet:
    tmp: Path
    shards: int = 2
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:10])
    nodes: dict[str, Node] = field(default_factory=dict)
    lb_port: int = 0
    _haproxy: subprocess.Popen | None = None

    def __post_init__(self) -> None:
        self.databases = [f"parley_fleet_{self.tag}_s{i}" for i in range(self.shards)]
        self.stream = f"FLEET_{self.tag}"
        self.lb_port = free_port("127.0.0.1")
        self.env = {
            "PARLEY_SHARDS": ",".join(f"mysql://{MARIADB}/{db}" for db in self.databases),
            "PARLEY_REDIS_URL": REDIS_URL,
            "PARLEY_REDIS_PREFIX": f"parley-fleet-{self.tag}:",
            "PARLEY_BUS_URL": NATS_URL,
            "PARLEY_BUS_STREAM": self.stream,
            "PARLEY_PARTITIONS": "4",
            "PARLEY_GATEWAY_URL": f"ws://127.0.0.1:{self.lb_port}/rtm",
            "PARLEY_HEARTBEAT": "5",
            # longer than HAProxy takes to see /readyz 503 (two checks a second apart)
            "PARLEY_DRAIN_SECONDS": "5",
        }

    @property
    def lb(self) -> str:
        return f"http://127.0.0.1:{self.lb_port}"

    def settings(self) -> Settings:
        """What ``parley`` admin commands see on this fleet."""
        return Settings.load({**self.env, "PARLEY_DATA_DIR": str(self.tmp / "admin")})

    def start(self, name: str, role: str, worker_id: int) -> Node:
        old = self.nodes.get(name)  # a restart keeps the ports the load balancer knows
        port = old.port if old else free_port("127.0.0.1")
        gateway_port = old.gateway_port if old else free_port("127.0.0.1")
        log = self.tmp / f"{name}.log"
        out = log.open("ab")
        cmd = [sys.executable, "-m", "parley", "serve", "--role", role]
        cmd += ["--port", str(port), "--gateway-port", str(gateway_port)]
        cmd += ["--data-dir", str(self.tmp / name)]
        env = {
            **os.environ,
            **self.env,
            "PARLEY_WORKER_ID": str(worker_id),
            "PYTHONUNBUFFERED": "1",
        }
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
        node = self.nodes[name] = Node(name, role, proc, port, gateway_port, log)
        try:
            wait_healthy(node.url, proc=proc)
        except RuntimeError as exc:
            raise RuntimeError(
                f"{name}: {exc}\n{log.read_text(errors='replace')[-4000:]}"
            ) from None
        return node

    def start_lb(self) -> None:
        """HAProxy with deploy/haproxy.cfg over api1, api2, gw1 and gw2."""
        haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
        n = self.nodes
        env = {
            **os.environ,
            "PARLEY_LB": f"127.0.0.1:{self.lb_port}",
            "PARLEY_API1": f"127.0.0.1:{n['api1'].port}",
            "PARLEY_API2": f"127.0.0.1:{n['api2'].port}",
            "PARLEY_GW1": f"127.0.0.1:{n['gw1'].gateway_port}",
            "PARLEY_GW2": f"127.0.0.1:{n['gw2'].gateway_port}",
            "PARLEY_GW1_HEALTH": str(n["gw1"].port),
            "PARLEY_GW2_HEALTH": str(n["gw2"].port),
        }
        self._haproxy = subprocess.Popen(
            [haproxy, "-db", "-f", str(ROOT / "deploy" / "haproxy.cfg")],
            env=env,
            stdout=(self.tmp / "haproxy.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        wait_healthy(self.lb, proc=self._haproxy, timeout=20)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        node = self.nodes[name]
        node.proc.send_signal(sig)
        node.proc.wait(30)

    def close(self) -> None:
        procs = [n.proc for n in self.nodes.values()] + [self._haproxy]
        for proc in procs:
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
        for proc in procs:
            if proc is not None:
                proc.wait(10)
        for db in self.databases:
            _mariadb(f"DROP DATABASE IF EXISTS {db}")
        asyncio.run(_delete_stream(self.stream))

    def logs(self) -> str:
        return "\n".join(
            f"--- {name}\n{node.log.read_text(errors='replace')[-3000:]}"
            for name, node in self.nodes.items()
        )

    # -- people ---------------------------------------------------------------------------

    def user(self, name: str, *, bot: bool = False) -> admin.Credentials:
        """A user (not announced to the team: the fleet's tests hear what they are about)."""
        return admin.create_user(
            self.settings(), name, bot=bot, rate_limit=TEST_RATE_LIMIT, announce=False
        )

    def client(self, token: str, via: str | None = None) -> WebClient:
        base = self.nodes[via].url if via else self.lb
        return WebClient(token=token, base_url=f"{base}/api/", timeout=10)


async def _delete_stream(name: str) -> None:
    import nats

    nc = await nats.connect(NATS_URL, connect_timeout=5, max_reconnect_attempts=0)
    js = nc.jetstream()
    try:
        with contextlib.suppress(Exception):  # never created
            await js.delete_stream(name)
        with contextlib.suppress(Exception):
            await js.delete_key_value(f"{name}_offsets")
    finally:
        await nc.close()


def get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code
