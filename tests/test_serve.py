"""`bertmon serve`: the monitor in a real headless browser (Debian's Chromium, driven by
Playwright), the address it binds and the warning before any address but loopback.

The terminal in the page is drawn on a canvas, so what the page shows is read where the browser
receives it: the frames of the page's own websocket, decoded as the terminal output they are.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_tui_support import ROOT, SEED000, SEED001, analyze_json

from bertmon.cmd_serve import exposure_warning, is_loopback

CHROMIUM = Path("/usr/bin/chromium")
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--no-first-run", "--disable-sync"]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port: int, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise AssertionError(f"bertmon serve exited {proc.returncode}: "
                                 f"{proc.stderr.read().decode(errors='replace')}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listening on {port} after {timeout}s")


def listening_on(port: int) -> set[str]:
    """The local addresses with a socket listening on `port` (IPv4), from /proc/net/tcp."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        addr, hexport = local.split(":")
        if state == "0A" and int(hexport, 16) == port:  # 0A: LISTEN
            found.add(socket.inet_ntoa(bytes.fromhex(addr)[::-1]))
    return found


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def serve(*argv: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bertmon", "serve", "--port", str(port), *argv],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    return proc, port


def test_loopback_or_not() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "localhost", "::1", "127.0.0.2", "[::1]"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "192.168.1.5", "example.org"))


def test_warns_before_binding_any_other_address() -> None:
    # a port already taken on every address: the warning comes first, then the bind fails
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "bertmon", "serve", "--host", "0.0.0.0", "--port", str(port),
             "tail", str(SEED000)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2
    assert lines[0] == exposure_warning("0.0.0.0", port)
    assert lines[-1].startswith(f"bertmon serve: cannot listen on 0.0.0.0:{port}")


def test_default_is_loopback_without_warning() -> None:
    proc, port = serve("tail", str(SEED000))
    try:
        wait_listening(port, proc)
        assert listening_on(port) == {"127.0.0.1"}  # the kernel's own table, no traffic sent
    finally:
        stop(proc)
    assert b"WARNING" not in proc.stderr.read()


@pytest.mark.parametrize("argv, words", [
    (["tail"], "serve tail wants LOG"),
    (["tail", str(ROOT)], "a directory without a train.log"),
    (["tail", "a", "b", "c"], "serve tail wants LOG"),
])
def test_bad_tail_arguments_are_one_line(argv: list[str], words: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "bertmon", "serve", *argv], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and words in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_missing_textual_serve_is_one_line() -> None:
    code = ("import sys; sys.modules['textual_serve'] = None; from bertmon.cli import main; "
            f"sys.exit(main(['serve', 'tail', {str(SEED000)!r}]))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("bertmon serve: serving needs textual-serve, which is not "
                                   "installed: pip install 'bertmon[serve]'")


@pytest.mark.e2e
@pytest.mark.skipif(not CHROMIUM.exists(),
                    reason="needs Debian's chromium at /usr/bin/chromium (apt-get install "
                    "chromium; .ci/run installs it)")
def test_monitor_in_a_headless_browser(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    best = analyze_json(SEED000)["runs"][0]["best"]
    proc, port = serve("tail", str(SEED000), str(SEED001))
    frames: list[str] = []

    def received(data: str | bytes) -> None:
        frames.append(data if isinstance(data, str) else data.decode("utf-8", "replace"))

    def screen_text() -> str:
        return ANSI.sub("", "".join(frames))

    def wait_text(page, predicate, what: str, timeout: float = 60.0) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if predicate(screen_text()):
                return
            page.wait_for_timeout(100)
        page.screenshot(path=tmp_path / "failed.png")
        raise AssertionError(f"the page never showed {what} ({tmp_path / 'failed.png'})")

    try:
        wait_listening(port, proc)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=BROWSER_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                page.on("websocket", lambda ws: ws.on("framereceived", received))
                page.goto(f"http://127.0.0.1:{port}/", wait_until="domcontentloaded")
                page.wait_for_selector("body.-first-byte", timeout=60_000)  # the app answered
                assert page.locator(".xterm-screen canvas").count() > 0  # and is drawn
                # the epoch table of the sample log: its header and its best row
                value = f"{best['value']:.4f}"
                wait_text(page, lambda t: "epochs" in t and best["metric"] in t and value in t,
                          f"the epoch table (best {best['metric']} {value})")
                # a key press travels browser -> app -> browser: `c` opens the comparison view
                assert "Configuration difference" not in screen_text()
                page.locator(".xterm-screen").click()
                page.keyboard.press("c")
                wait_text(page, lambda t: "Configuration difference" in t
                          and "no dev score common to both runs" in t,
                          "the comparison screen after pressing c")
                page.screenshot(path=tmp_path / "browser.png")
            finally:
                browser.close()
    finally:
        stop(proc)
    assert os.path.getsize(tmp_path / "browser.png") > 10_000


@pytest.mark.slow
def test_serve_train_starts_the_trainer_once_and_stops_it_on_ctrl_c(tmp_path: Path) -> None:
    import json
    import signal
    import urllib.request

    from bertmon.trainers.data import DEMO_DATA
    from bertmon.trainers.models import demo_vocab, make_random_bert

    model = make_random_bert(tmp_path / "bert", demo_vocab(), hidden=32, layers=2, heads=2,
                             intermediate=64, max_positions=64, seed=1)
    data = tmp_path / "small.csv"
    data.write_text("\n".join(DEMO_DATA.read_text(encoding="utf-8").splitlines()[:241]) + "\n",
                    encoding="utf-8")
    runs = tmp_path / "runs"
    proc, port = serve("train", "--model", str(model), "--data", str(data), "--epochs", "50",
                       "--max-len", "24", "--lr", "1e-3", "--runs-dir", str(runs), "--name", "s")
    try:
        wait_listening(port, proc, timeout=120)
        for _ in range(2):  # two pages: still one run
            page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30).read()
            assert f"ws://127.0.0.1:{port}/ws".encode() in page
        end = time.monotonic() + 180
        log = runs / "s" / "train.log"
        while time.monotonic() < end and b"epoch 1" not in log.read_bytes().lower():
            time.sleep(0.5)
        assert [p.name for p in runs.iterdir()] == ["s"]
        proc.send_signal(signal.SIGINT)  # Ctrl-C: the server stops, then the trainer, gracefully
        code = proc.wait(180)
    finally:
        stop(proc)
    status = json.loads((runs / "s" / "status.json").read_text())
    assert status["status"] == "stopped" and code == 130, (code, status)
    assert (runs / "s" / "report.md").is_file()
