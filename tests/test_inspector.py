"""The account inspector page in a real browser: Debian's Chromium, headless.

A live Sluice, an account made risky by real traffic, and Chromium loading
/admin/ui with the admin token in the URL fragment: the rendered page must
name the account and the reason, and a screenshot is taken (CI keeps none;
set SLUICE_SCREENSHOT_DIR to keep it).
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import aiohttp
import pytest

from tests.harness import running_sluice

TOKEN = "inspector-secret"
HARVEST = {"model": "stub-model", "messages": [{"role": "user", "content": "Tell me about rivers."}],
           "max_tokens": 64, "logprobs": True, "top_logprobs": 15}
PLAIN = {"model": "stub-model", "messages": [{"role": "user", "content": "hello"}], "max_tokens": 8}
TIERS = {"default": {"limits": {"requests_per_minute": 1000},
                     "detection": {"levels": {"delay": 0.2, "perturb": None, "throttle": 0.5, "block": None}}}}
CHROMIUM_TIMEOUT = 90.0
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        # CI installs it (.ci/run); only a developer machine without it may skip.
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: .ci/run installs Debian's chromium")
        pytest.skip("chromium not found on PATH (apt-get install chromium)")
    return found


async def headless(binary: str, profile: Path, *args: str) -> bytes:
    """Run headless Chromium without blocking the event loop the Sluice under test runs on."""
    process = await asyncio.create_subprocess_exec(
        binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--no-first-run", "--disable-extensions", "--hide-scrollbars", f"--user-data-dir={profile}", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), CHROMIUM_TIMEOUT)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode == 0, err.decode(errors="replace")[-2000:]
    return out


async def test_inspector_shows_the_risky_account_and_why(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    binary = chromium()
    monkeypatch.setenv("SLUICE_TEST_ADMIN_TOKEN", TOKEN)
    async with running_sluice(tiers=TIERS) as run, aiohttp.ClientSession() as session:
        statuses = []
        for key, body, count in (("sk-test-bob", PLAIN, 3), ("sk-test-alice", HARVEST, 8)):
            for _ in range(count):
                async with session.post(run.base_url + "/v1/chat/completions", json=body,
                                        headers={"Authorization": f"Bearer {key}"}) as r:
                    await r.read()
                    statuses.append(r.status)
        assert statuses[-1] == 429  # alice is throttled as an extractor; bob is not
        url = f"{run.admin_url}/admin/ui#token={TOKEN}"

        dom = (await headless(binary, tmp_path / "p1", "--virtual-time-budget=5000", "--dump-dom", url)).decode()
        # The riskiest account is listed first and selected; its reasons are shown.
        rows = dom.split('<tbody>', 1)[1].split('</tbody>', 1)[0]
        assert rows.index("alice") < rows.index("bob")
        assert 'id="d-account" style="text-transform:none;color:var(--ink)">alice<' in dom  # selected
        assert "logprob_harvest" in dom  # the signal, in the signals table and the decisions' reasons
        assert "throttle" in dom and "aria-label=\"risk over time\"" in dom and "<path" in dom
        assert 'id="status">updated ' in dom and TOKEN not in dom  # signed in; the token shown nowhere

        # Without the token the page asks for it and shows no data.
        anonymous = (await headless(binary, tmp_path / "p2", "--virtual-time-budget=3000", "--dump-dom",
                                    f"{run.admin_url}/admin/ui")).decode()
        assert 'id="status">not signed in<' in anonymous and '<section id="login" class="card">' in anonymous
        assert "alice" not in anonymous

        shot = Path(os.environ.get("SLUICE_SCREENSHOT_DIR") or tmp_path) / "inspector.png"
        shot.parent.mkdir(parents=True, exist_ok=True)
        await headless(binary, tmp_path / "p3", "--virtual-time-budget=5000", "--window-size=1280,900",
                       f"--screenshot={shot}", url)
    data = shot.read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > 20_000  # a rendered page, not a blank one
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1280, 900)
