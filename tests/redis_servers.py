"""Throwaway redis-server processes for the tests: a standalone server and a 3-master cluster.

Real servers, not mocks: the store's scripts, key hash tags and NOSCRIPT path
only mean something against Redis itself. Every server here listens on
loopback, keeps nothing on disk, and is stopped by whoever started it.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

CLUSTER_BUS_OFFSET = 10000  # Redis Cluster talks node-to-node on port + 10000
START_TIMEOUT = 10.0


def redis_binaries() -> tuple[str, str] | None:
    """(redis-server, redis-cli), or None if either is missing."""
    server, cli = shutil.which("redis-server"), shutil.which("redis-cli")
    return (server, cli) if server and cli else None


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(*, with_bus: bool = False) -> int:
    """A loopback port nothing listens on; with_bus: port + 10000 is free too (cluster nodes)."""
    for _ in range(100):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if not with_bus:
            return port
        if port + CLUSTER_BUS_OFFSET <= 65535 and _port_free(port + CLUSTER_BUS_OFFSET):
            return port
    raise RuntimeError("no free port pair found for a cluster node")


@dataclass
class RedisProcess:
    """One redis-server we started; only its owner stops it."""

    port: int
    workdir: Path
    process: subprocess.Popen[bytes]
    unixsocket: Path | None = None
    args: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2.0)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def restart(self) -> None:
        """Start the same server again on the same port (after stop(), for outage tests)."""
        with open(self.workdir / "stdout.log", "ab") as out:
            self.process = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        if not _wait_ready(self):
            raise RuntimeError(f"redis-server on port {self.port} did not restart:\n{self.log()}")

    def log(self) -> str:
        parts = [self.workdir / "stdout.log", self.workdir / "redis.log"]
        return "".join(path.read_text(errors="replace") for path in parts if path.exists())


def _wait_ready(server: RedisProcess) -> bool:
    """True once the server answers PING; False if it exited (e.g. port taken)."""
    deadline = time.monotonic() + START_TIMEOUT
    with contextlib.closing(server.client()) as client:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                return False
            try:
                if client.ping():
                    return True
            except redis.exceptions.ConnectionError:
                time.sleep(0.02)
    raise RuntimeError(f"redis-server on port {server.port} did not start:\n{server.log()}")


def start_server(
    binary: str, workdir: Path, *extra: str, cluster: bool = False, unixsocket: bool = False
) -> RedisProcess:
    """Start redis-server on a free port, in a fresh directory under workdir.

    Retried on another port if some other process grabs the chosen one first.
    """
    for _ in range(5):
        port = free_port(with_bus=cluster)
        home = workdir / str(port)  # fresh per attempt: no stale cluster config
        home.mkdir(parents=True)
        sock = home / "redis.sock" if unixsocket else None
        args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        args += ["--dir", str(home), "--logfile", "redis.log", *extra]
        if sock is not None:
            args += ["--unixsocket", str(sock), "--unixsocketperm", "700"]
        with open(home / "stdout.log", "wb") as out:
            process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        server = RedisProcess(port=port, workdir=home, process=process, unixsocket=sock, args=args)
        if _wait_ready(server):
            return server
        server.stop()
    raise RuntimeError(f"could not start redis-server in {workdir}:\n{server.log()}")


@dataclass
class RedisClusterProcesses:
    """Three masters, no replicas, every slot covered."""

    nodes: list[RedisProcess] = field(default_factory=list)

    @property
    def ports(self) -> list[int]:
        return [node.port for node in self.nodes]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.ports[0]}"

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


def _cluster_ok(nodes: list[RedisProcess]) -> bool:
    for node in nodes:
        with contextlib.closing(node.client()) as client:
            info = client.execute_command("CLUSTER", "INFO")
        text = info.decode() if isinstance(info, bytes) else str(info)
        if "cluster_state:ok" not in text:
            return False
    return True


def start_cluster(server_binary: str, cli_binary: str, workdir: Path, masters: int = 3) -> RedisClusterProcesses:
    cluster = RedisClusterProcesses()
    try:
        for i in range(masters):
            cluster.nodes.append(
                start_server(
                    server_binary,
                    workdir / f"node{i}",
                    "--cluster-enabled", "yes",
                    "--cluster-config-file", "nodes.conf",
                    "--cluster-node-timeout", "5000",
                    cluster=True,
                )
            )
        addresses = [f"127.0.0.1:{port}" for port in cluster.ports]
        create = [cli_binary, "--cluster", "create", *addresses, "--cluster-replicas", "0", "--cluster-yes"]
        result = subprocess.run(create, capture_output=True, timeout=60, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster create failed:\n{result.stdout.decode()}{result.stderr.decode()}")
        deadline = time.monotonic() + START_TIMEOUT
        while not _cluster_ok(cluster.nodes):
            if time.monotonic() > deadline:
                raise RuntimeError("the test cluster never reached cluster_state:ok")
            time.sleep(0.05)
    except BaseException:
        cluster.stop()
        raise
    return cluster
