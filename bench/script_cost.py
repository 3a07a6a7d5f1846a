"""Redis's instructions per admit.lua and settle.lua call, counted by callgrind.

    python bench/script_cost.py [--warm 2000] [--calls 300]
    PYTHONPATH=DIR python bench/script_cost.py    # another tree's scripts (DIR/proxy)

Starts redis-server under valgrind's callgrind (Debian's ``valgrind``) with counting off, fills 32
accounts' rings with ``--warm`` admits and settlements (bench/admission.py's observations: detection
on, four campaign fingerprints each), then counts ``--calls`` admits, and apart the same number of
settlements. An instruction count does not move with the machine's load, unlike a time: the figure
to compare two versions of the scripts by, where bench/admission.py's time per call moves 10-20%
from run to run. The counts are for this Redis build; a script change is judged by the difference.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from admission import observation  # bench/admission.py (this folder is on sys.path)
from ports import free_port, wait_port

from proxy.config import Limits, StoreConfig
from proxy.detect import Outcome
from proxy.store.redis import RedisStore

ACCOUNTS = 32
BATCH = 100


def totals(dump: Path) -> int:
    for line in dump.read_text().splitlines():
        if line.startswith("totals:"):
            return int(line.split()[1])
    raise SystemExit(f"no totals in {dump}")


async def drive(port: int, pid: int, warm: int, calls: int) -> None:
    store = RedisStore.from_config(
        # valgrind runs Redis ~50x slower: a generous timeout, so no call is abandoned mid-count.
        StoreConfig(backend="redis", url=f"redis://127.0.0.1:{port}/0", timeout_ms=60000), prefix="cost:"
    )
    limits = Limits(requests_per_minute=10**6, tokens_per_minute=10**9, tokens_per_day=10**12,
                    tokens_per_month=10**13, concurrency=10**4)
    rng = random.Random(1)
    start = 1_796_000_000.0  # a fixed clock: the same decays and hour slots every run

    def control(*options: str) -> None:
        subprocess.run(["callgrind_control", *options, str(pid)], check=True, capture_output=True)

    async def round_trip(first: int, count: int, counted: str | None) -> None:
        admitted = []
        if counted == "admit":
            control("-i", "on")
        for i in range(first, first + count):
            account, now = f"acct-{rng.randrange(ACCOUNTS)}", start + i * 0.5
            admitted.append((account, now, await store.admit(account, limits, 700, now, f"l-{i}", observation(rng))))
        if counted == "admit":  # a dump holds what was counted since the last one
            control("-d")
            control("-i", "off")
        if counted == "settle":
            control("-i", "on")
        for account, now, admission in admitted:
            await store.settle(account, limits, admission, 650, now, Outcome(300, 350, True, 0.1))
        if counted == "settle":
            control("-d")
            control("-i", "off")

    for first in range(0, warm, BATCH):
        await round_trip(first, min(BATCH, warm - first), None)
    await round_trip(warm, calls, "admit")
    await round_trip(warm + calls, calls, "settle")
    await store.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warm", type=int, default=2000, help="admits and settlements before counting")
    parser.add_argument("--calls", type=int, default=300, help="admits counted, then settlements")
    args = parser.parse_args()
    for tool in ("valgrind", "callgrind_control", "redis-server"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} not found: apt-get install valgrind redis-server")
    tmp = Path(tempfile.mkdtemp(prefix="sluice-script-cost-"))
    port = free_port()
    out = tmp / "callgrind.out"
    server = subprocess.Popen(
        ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
         "redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(tmp)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_port(port, timeout=60.0)
        asyncio.run(drive(port, server.pid, args.warm, args.calls))
    finally:
        server.terminate()
        server.wait(timeout=60)
    time.sleep(0.2)
    admit, settle = totals(Path(f"{out}.1")), totals(Path(f"{out}.2"))
    print(f"redis-server instructions per call (callgrind, {args.calls} calls each after {args.warm} to fill "
          f"{ACCOUNTS} accounts' rings; detection on, four campaign fingerprints):")
    print(f"  admit.lua   {admit / args.calls:>12,.0f}")
    print(f"  settle.lua  {settle / args.calls:>12,.0f}")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
