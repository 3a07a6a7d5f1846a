"""Shared fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.redis_servers import RedisClusterProcesses, RedisProcess, redis_binaries, start_cluster, start_server


def _binaries() -> tuple[str, str]:
    found = redis_binaries()
    if found is None:
        pytest.skip("redis-server/redis-cli not found on PATH: Redis store tests need a real server")
    return found


@pytest.fixture(scope="session")
def redis_standalone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisProcess]:
    """A throwaway standalone redis-server (TCP and a unix socket) for this test session."""
    server_binary, _ = _binaries()
    server = start_server(server_binary, tmp_path_factory.mktemp("redis"), unixsocket=True)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterProcesses]:
    """A throwaway 3-master Redis Cluster (no replicas) for this test session."""
    server_binary, cli_binary = _binaries()
    cluster = start_cluster(server_binary, cli_binary, tmp_path_factory.mktemp("redis-cluster"))
    try:
        yield cluster
    finally:
        cluster.stop()
