"""The ``sluice`` command (also ``python -m proxy``)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence

from proxy import __version__
from proxy.accounts import KeyTable, KeysFileError, keys_file_line
from proxy.config import Config, ConfigError, load_config

log = logging.getLogger("sluice")


def _load(path: str) -> Config:
    config = load_config(path)
    KeyTable.from_config(config)  # a bad keys file is a config error too
    return config


def _config_errors_exit_2(command: Callable[[], int]) -> int:
    """Run a command that reads a config; a config error is one line naming the field, exit 2."""
    try:
        return command()
    except (ConfigError, KeysFileError) as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2


def _check(path: str) -> int:
    config = _load(path)
    print(f"{path}: ok ({len(config.tiers)} tiers, store {config.store.backend})")
    return 0


def _run(coro: object) -> object:
    try:
        import uvloop

        return uvloop.run(coro)  # type: ignore[arg-type]
    except ImportError:  # pragma: no cover - uvloop is a dependency; keep Windows dev boxes working
        return asyncio.run(coro)  # type: ignore[arg-type]


async def serve(config: Config, reuse_port: bool = False) -> int:
    from proxy.server import Sluice

    sluice = Sluice(config)
    proxy_port, admin_port = await sluice.start(reuse_port=reuse_port)
    log.info(
        "sluice listening",
        extra={"proxy": f"{config.listen.host}:{proxy_port}", "admin": f"{config.admin.host}:{admin_port}",
               "upstream": config.upstream.url, "store": config.store.backend, "version": __version__},
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, sluice.reload)
    await stop.wait()
    log.info("draining", extra={"deadline_s": config.server.drain_seconds})
    await sluice.stop()
    log.info("stopped")
    return 0


def _die_with_parent() -> None:
    """In a worker, before exec: SIGTERM (a drain) when the parent dies, even by SIGKILL (Linux only)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - not Linux: the parent's signal forwarding remains
        pass


def serve_workers(path: str, workers: int, log_level: str) -> int:
    """``serve --workers N``: N ``serve`` processes sharing the ports (SO_REUSEPORT), this one their parent.

    The kernel spreads new connections over the workers. The parent validates the
    config first (exit 2 naming the field), forwards SIGTERM, SIGINT and SIGHUP to
    every worker, and exits when they have: 0 if all exited 0. A worker that dies
    on its own takes the others down, so the orchestrator restarts the pod whole.
    """
    config = _load(path)
    if config.store.backend == "memory":
        # Each process would keep its own counters: every limit enforced N times over.
        raise ConfigError("store.backend", f"--workers {workers} needs the redis store: memory budgets are per process")
    for section, listen in (("listen", config.listen), ("admin", config.admin)):
        if listen.port == 0:
            raise ConfigError(f"{section}.port", f"--workers {workers} needs a fixed port, not 0")
    argv = [sys.executable, "-m", "proxy", "serve", "--config", path, "--log-level", log_level, "--reuse-port"]
    procs: list[subprocess.Popen[bytes]] = []
    stopping = False

    def forward(signum: int, frame: object) -> None:
        nonlocal stopping
        if signum != signal.SIGHUP:
            stopping = True
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signum)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, forward)  # before the first worker exists: no signal falls between
    for _ in range(workers):
        if not stopping:
            procs.append(subprocess.Popen(argv, preexec_fn=_die_with_parent))  # noqa: S603 - our own argv
    log.info("sluice workers started", extra={"workers": workers, "pids": [p.pid for p in procs]})
    code = 0
    running = list(procs)
    while running:
        pid, status = os.wait()
        proc = next((p for p in running if p.pid == pid), None)
        if proc is None:
            continue
        running.remove(proc)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            code = code or (proc.returncode if proc.returncode > 0 else 1)
        if not stopping:
            log.error("a worker exited on its own; stopping the others", extra={"pid": pid, "code": proc.returncode})
            forward(signal.SIGTERM, None)
            code = code or 1
    return code


def main(argv: Sequence[str] | None = None) -> int:
    from proxy.logs import setup_logging

    parser = argparse.ArgumentParser(prog="sluice", description="Rate-limiting and query-shaping proxy for LLM APIs")
    parser.add_argument("--version", action="version", version=f"sluice {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("serve", help="run the proxy and its admin listener")
    p.add_argument("--config", required=True, help="YAML config file")
    p.add_argument("--log-level", default="INFO")
    p.add_argument("--workers", type=int, default=1,
                   help="processes sharing the ports (SO_REUSEPORT); needs the redis store and fixed ports")
    p.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)  # set by --workers for its children

    p = commands.add_parser("check-config", help="validate a config file and exit")
    p.add_argument("config")

    p = commands.add_parser("demo", help="run the built-in demo: stub upstream, simulated traffic, a report")
    p.add_argument("--seconds", type=float, default=20.0, help="upper bound on the demo's traffic phase")

    p = commands.add_parser("replay", help="run admission, detector and policy on a recorded trace")
    from proxy import replay as replay_module

    replay_module.add_arguments(p)

    p = commands.add_parser("simulate", help="generate benign and extraction traffic (a trace and its labels)")
    from proxy import simulate as simulate_module

    simulate_module.add_arguments(p)

    p = commands.add_parser("fingerprint", help="output fingerprints: verify whose mark a text carries")
    from proxy import fingerprint_cli

    fingerprint_cli.add_arguments(p)

    p = commands.add_parser("keys", help="API key helpers")
    keys = p.add_subparsers(dest="keys_command", required=True)
    h = keys.add_parser("hash", help="print the keys-file line for a key (read from stdin if omitted)")
    h.add_argument("key", nargs="?")
    h.add_argument("--account", default="ACCOUNT")
    h.add_argument("--tier", default="default")

    p = commands.add_parser("stub", help="run the stub OpenAI-compatible upstream")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--reply-tokens", type=int, default=40)
    p.add_argument("--chunk-delay", type=float, default=0.0)

    args = parser.parse_args(argv)
    setup_logging(getattr(args, "log_level", "WARNING") if args.command == "serve" else "WARNING")

    if args.command == "check-config":
        return _config_errors_exit_2(lambda: _check(args.config))
    if args.command == "serve":
        if args.workers < 1:
            parser.error("--workers must be at least 1")
        if args.workers > 1:
            return _config_errors_exit_2(lambda: serve_workers(args.config, args.workers, args.log_level))
        return _config_errors_exit_2(
            lambda: int(_run(serve(_load(args.config), reuse_port=args.reuse_port)))  # type: ignore[call-overload]
        )
    if args.command == "replay":
        return _config_errors_exit_2(lambda: replay_module.run(args))
    if args.command == "simulate":
        return simulate_module.run(args)
    if args.command == "fingerprint":
        return _config_errors_exit_2(lambda: fingerprint_cli.run(args))
    if args.command == "keys":
        key = args.key if args.key is not None else sys.stdin.readline().strip()
        if not key:
            print("no key given", file=sys.stderr)
            return 2
        print(keys_file_line(key, args.account, args.tier))
        return 0
    if args.command == "demo":
        from proxy.demo import run_demo

        return int(_run(run_demo(args.seconds)))  # type: ignore[call-overload]
    if args.command == "stub":
        from proxy.stub import StubUpstream

        async def run_stub() -> int:
            stub = StubUpstream(reply_tokens=args.reply_tokens, chunk_delay=args.chunk_delay)
            url = await stub.start(args.host, args.port)
            print(f"stub upstream on {url}", flush=True)
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
            await stop.wait()
            await stub.stop()
            return 0

        return int(_run(run_stub()))  # type: ignore[call-overload]
    parser.error(f"unknown command {args.command}")
    return 2
