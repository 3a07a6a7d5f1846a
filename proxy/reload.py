"""Hot reload: on SIGHUP, or when the config file (or its keys file) changes on disk.

A Kubernetes ConfigMap volume updates by swapping a symlink (``..data``) to a
new directory, so the watcher compares what the paths resolve to (inode, size,
mtime), not just the mtime of the link. A new config is validated completely
before it replaces the old one; an invalid one is rejected, the old one stays,
and a metric and a log line say so. Sections that live in open sockets and
pools (listen, admin, upstream, server, store) keep their running values until
a restart, and the log names them.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import replace
from typing import TYPE_CHECKING

from proxy.accounts import KeysFileError, KeyTable
from proxy.config import Config, ConfigError, load_config

if TYPE_CHECKING:
    from proxy.server import Sluice

log = logging.getLogger("sluice.reload")

RESTART_ONLY = ("listen", "admin", "upstream", "server", "store")


def _signature(path: str | None) -> tuple[int, int, int] | None:
    if not path:
        return None
    try:
        st = os.stat(path)  # follows symlinks: a swapped ConfigMap directory is a new inode
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def files_of(config: Config) -> tuple[str | None, str | None]:
    return config.source, config.keys.file


def reload_config(sluice: Sluice) -> bool:
    """Load, validate and swap in the config from its file; False (old config kept) on any error."""
    path = sluice.config.source
    if not path:
        log.warning("config reload asked, but this config was not read from a file")
        return False
    try:
        new = load_config(path)
        keys = KeyTable.from_config(new)
    except (ConfigError, KeysFileError) as exc:
        sluice.metrics.config_reloads.labels("rejected").inc()
        log.error("config reload rejected; the running config stays", extra={"error": str(exc)})
        return False
    old = sluice.config
    fixed = [name for name in RESTART_ONLY if getattr(new, name) != getattr(old, name)]
    if fixed:
        new = replace(new, **{name: getattr(old, name) for name in fixed})
        log.warning("config reload: these sections change only on restart", extra={"sections": fixed})
    # Requests in flight keep the objects they already hold; new ones see the new config.
    sluice.config, sluice.keys = new, keys
    sluice.metrics.config_reloads.labels("applied").inc()
    log.info("config reloaded", extra={"source": path})
    return True


async def watch(sluice: Sluice, interval: float) -> None:
    """Poll the config and keys files; reload when what they resolve to changes."""
    seen = tuple(_signature(p) for p in files_of(sluice.config))
    while True:
        await asyncio.sleep(interval)
        now = tuple(_signature(p) for p in files_of(sluice.config))
        if now != seen:
            seen = now
            reload_config(sluice)
            seen = tuple(_signature(p) for p in files_of(sluice.config))
