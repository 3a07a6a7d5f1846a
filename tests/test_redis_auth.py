"""Redis behind a password, an ACL user and TLS: Sluice connects with what the URL and config say.

Throwaway ``redis-server`` processes on loopback: one with ``requirepass``, one whose default user
is off and whose ``sluice`` ACL user may touch only ``sl:*`` keys, and one speaking only TLS
(certificates made here with the ``openssl`` CLI), with and without client certificates. A wrong
password stops ``sluice serve`` at start-up with exit 2 and a message naming ``store.url`` and never
the password; a certificate Sluice cannot verify leaves it unready with the reason on ``/readyz``.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
import redis

from proxy.config import ConfigError
from proxy.server import Sluice
from tests.harness import base_config, free_port, running_sluice

PASSWORD = "redis-pw-Zq81x"  # distinctive, so a leak is found by grep
CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not on the PATH")


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    home: Path
    client: redis.Redis

    def log(self) -> str:
        path = self.home / "redis.log"
        return path.read_text(errors="replace") if path.exists() else ""


@contextlib.contextmanager
def redis_server(home: Path, args: list[str], client: dict[str, object], tls: bool = False) -> Iterator[Server]:
    """A redis-server with extra args; ready once ``client`` (how the test itself connects) gets PONG."""
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    listen = ["--port", "0", "--tls-port", str(port)] if tls else ["--port", str(port)]
    command = ["redis-server", *listen, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(home),
               "--logfile", "redis.log", *args]
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    conn = redis.Redis(host="127.0.0.1", port=port, socket_timeout=2.0, **client)  # type: ignore[arg-type]
    server = Server(process, port, home, conn)
    try:
        deadline = time.monotonic() + 10
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"redis-server exited:\n{server.log()}")
            try:
                if conn.ping():
                    break
            except redis.exceptions.ConnectionError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start:\n{server.log()}") from None
                time.sleep(0.05)
        yield server
    finally:
        conn.close()
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def store(url: str, **extra: object) -> dict[str, object]:
    return {"backend": "redis", "url": url, "timeout_ms": 1000, "failure": "closed", **extra}


async def served_and_counted(server: Server, **store_section: object) -> None:
    """Sluice admits through this Redis: a request is served and its counters are in the server."""
    async with running_sluice(store=store_section) as run:
        client = run.client()
        reply = await client.chat.completions.create(**CHAT)  # type: ignore[call-overload]
        assert reply.choices[0].message.content
        async with aiohttp.ClientSession() as session:
            async with session.get(run.admin_url + "/readyz") as response:
                assert response.status == 200, await response.text()
    keys = [k.decode() for k in server.client.keys("sl:*")]
    assert any(k.startswith("sl:{a:alice}:") for k in keys), keys


async def test_requirepass_in_the_url(tmp_path: Path) -> None:
    with redis_server(tmp_path / "pw", ["--requirepass", PASSWORD], {"password": PASSWORD}) as server:
        url = f"redis://:{PASSWORD}@127.0.0.1:{server.port}/0"
        await served_and_counted(server, **store(url))
        # Without the password the store refuses: at start-up, naming the field, not the secret.
        wrong = f"redis://:not-{PASSWORD}@127.0.0.1:{server.port}/0"
        for bad in (wrong, f"redis://127.0.0.1:{server.port}/0"):
            sluice = Sluice(base_config("http://127.0.0.1:9", store=store(bad)))
            with pytest.raises(ConfigError) as raised:
                await sluice.start()
            await sluice.stop()
            assert raised.value.path == "store.url"
            assert "refused the credentials" in str(raised.value) and PASSWORD not in str(raised.value)


async def test_acl_user_limited_to_sluice_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    acl = ["--user", "default", "off", "--user", "sluice", "on", f">{PASSWORD}", "~sl:*", "+@all"]
    with redis_server(tmp_path / "acl", acl, {"username": "sluice", "password": PASSWORD}) as server:
        # Credentials from the environment (store.url_env), as a deployment keeps them out of the file.
        monkeypatch.setenv("SLUICE_TEST_REDIS_URL", f"redis://sluice:{PASSWORD}@127.0.0.1:{server.port}/0")
        await served_and_counted(server, backend="redis", url_env="SLUICE_TEST_REDIS_URL", timeout_ms=1000,
                                 failure="closed")
        # Every key Sluice wrote fits the ACL pattern, or the scripts would have been refused (NOPERM).
        assert all(k.startswith(b"sl:") for k in server.client.keys("*"))
        monkeypatch.setenv("SLUICE_TEST_REDIS_URL", f"redis://intruder:{PASSWORD}@127.0.0.1:{server.port}/0")
        sluice = Sluice(base_config("http://127.0.0.1:9", store={"backend": "redis", "url_env": "SLUICE_TEST_REDIS_URL"}))
        with pytest.raises(ConfigError, match="^store.url: Redis refused the credentials"):
            await sluice.start()
        await sluice.stop()


def test_wrong_password_stops_sluice_serve_with_exit_2_and_never_prints_it(tmp_path: Path) -> None:
    with redis_server(tmp_path / "pw", ["--requirepass", PASSWORD], {"password": PASSWORD}) as server:
        wrong = f"{PASSWORD}-wrong"
        config = tmp_path / "sluice.yaml"
        config.write_text(
            f"listen: {{port: {free_port()}}}\nadmin: {{port: {free_port()}}}\n"
            f"upstream: {{url: 'http://127.0.0.1:9'}}\n"
            f"store: {{backend: redis, url: 'redis://:{wrong}@127.0.0.1:{server.port}/0', timeout_ms: 1000}}\n"
        )
        result = subprocess.run([sys.executable, "-m", "proxy", "serve", "--config", str(config), "--log-level", "DEBUG"],
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 2, result.stderr
        assert "config error: store.url: Redis refused the credentials" in result.stderr
        assert PASSWORD not in result.stderr + result.stdout and "Traceback" not in result.stderr


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture
def certs(tmp_path: Path) -> Path:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, all signed by the CA."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl CLI is needed to make test certificates")
    d = tmp_path / "certs"
    d.mkdir()
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
             "-subj", "/CN=sluice-test-ca", cwd=d)
    for name, ext in (("server", "subjectAltName=IP:127.0.0.1,DNS:localhost"), ("client", "extendedKeyUsage=clientAuth")):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
                 "-subj", f"/CN=sluice-test-{name}", cwd=d)
        (d / f"{name}.ext").write_text(ext + "\n")
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                 "-out", f"{name}.crt", "-days", "2", "-extfile", f"{name}.ext", cwd=d)
    # A second CA that signed nothing here: trusting it must not be enough.
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "other.key", "-out", "other.crt", "-days", "2",
             "-subj", "/CN=someone-else", cwd=d)
    return d


def _tls_args(d: Path, clients: str) -> list[str]:
    return ["--tls-cert-file", str(d / "server.crt"), "--tls-key-file", str(d / "server.key"),
            "--tls-ca-cert-file", str(d / "ca.crt"), "--tls-auth-clients", clients]


def _tls_client(d: Path, with_cert: bool) -> dict[str, object]:
    options: dict[str, object] = {"ssl": True, "ssl_ca_certs": str(d / "ca.crt")}
    if with_cert:
        options.update(ssl_certfile=str(d / "client.crt"), ssl_keyfile=str(d / "client.key"))
    return options


async def _readiness_problem(**store_section: object) -> dict[str, str]:
    async with running_sluice(store=store_section) as run:
        async with aiohttp.ClientSession() as session:
            async with session.get(run.admin_url + "/readyz") as response:
                assert response.status == 503
                return (await response.json())["problems"]  # type: ignore[no-any-return]


async def test_tls_with_the_ca_from_config(certs: Path, tmp_path: Path) -> None:
    with redis_server(tmp_path / "tls", [*_tls_args(certs, "no"), "--requirepass", PASSWORD],
                      {**_tls_client(certs, False), "password": PASSWORD}, tls=True) as server:
        url = f"rediss://:{PASSWORD}@127.0.0.1:{server.port}/0"
        await served_and_counted(server, **store(url, tls_ca_file=str(certs / "ca.crt")))
        # A CA that did not sign the server's certificate: the store is not trusted, readiness says why.
        problems = await _readiness_problem(**store(url, tls_ca_file=str(certs / "other.crt"), failure="open"))
        assert "store" in problems and "upstream" not in problems
        assert "SSL" in problems["store"] or "Connection" in problems["store"], problems
        # Plain TCP to a TLS port is no way in either.
        problems = await _readiness_problem(**store(url.replace("rediss://", "redis://"), failure="open"))
        assert "store" in problems


async def test_tls_with_a_client_certificate(certs: Path, tmp_path: Path) -> None:
    with redis_server(tmp_path / "mtls", _tls_args(certs, "yes"), _tls_client(certs, True), tls=True) as server:
        url = f"rediss://127.0.0.1:{server.port}/0"
        ca = str(certs / "ca.crt")
        await served_and_counted(server, **store(url, tls_ca_file=ca, tls_cert_file=str(certs / "client.crt"),
                                                 tls_key_file=str(certs / "client.key")))
        # The server asks for a certificate: without one, Sluice is not ready.
        problems = await _readiness_problem(**store(url, tls_ca_file=ca, failure="open"))
        assert "store" in problems


def test_tls_settings_are_validated_naming_the_field(certs: Path) -> None:
    from proxy.config import parse_config

    ca = str(certs / "ca.crt")
    for section, field in [
        (store("redis://127.0.0.1:1/0", tls_ca_file=ca), "store.tls_ca_file"),  # TLS files without TLS
        (store("rediss://127.0.0.1:1/0", tls_ca_file=ca + ".missing"), "store.tls_ca_file"),
        (store("rediss://127.0.0.1:1/0", tls_cert_file=str(certs / "client.crt")), "store.tls_key_file"),
    ]:
        with pytest.raises(ConfigError) as raised:
            parse_config({"store": section})
        assert raised.value.path == field, str(raised.value)


def test_a_store_url_asking_for_decoded_replies_is_refused_naming_the_field() -> None:
    from proxy.config import parse_config

    secret = "hunter2-not-echoed"
    with pytest.raises(ConfigError) as raised:
        parse_config({"store": store(f"redis://:{secret}@127.0.0.1:1/0?decode_responses=True")})
    assert raised.value.path == "store.url" and "decode_responses" in str(raised.value)
    assert secret not in str(raised.value)
    parse_config({"store": store("redis://127.0.0.1:1/0?socket_keepalive=True")})  # other options pass


async def test_an_unreachable_store_at_start_up_is_no_config_error() -> None:
    # Redis may come up after the proxy: only refused credentials stop the start.
    port = free_port()
    async with running_sluice(store=store(f"redis://127.0.0.1:{port}/0", timeout_ms=200, failure="open")) as run:
        reply = await run.client().chat.completions.create(**CHAT)  # type: ignore[call-overload]
        assert reply.choices[0].message.content  # served on the local fallback
    await asyncio.sleep(0)
