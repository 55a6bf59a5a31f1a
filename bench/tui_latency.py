"""How fast the monitor keeps up: latency and CPU under a 10,000 lines/s log, and first screen.

1. A writer process appends a Keras-style log (progress-bar records, epoch ends with dev
   metrics) at --rate records/s for --seconds while the app tails it headless. Every record's
   write time is kept; each time a new snapshot reaches the screen, latency is the time since the
   newest train-loss point it holds was written. Prints p50/p95/max and the app's CPU share.
2. A finished log of --size-mb is written; prints the wall time of `bertmon analyze` on it and
   of the monitor from start to its first full screen (file read, findings up to date, drawn),
   both as fresh processes.

Run by hand: `.venv/bin/python bench/tui_latency.py [--seconds 60] [--size-mb 200]`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import subprocess
import sys
import tempfile
import time
from array import array
from pathlib import Path

STEPS = 100_000  # steps per epoch: a (epoch, step) repeats no sooner than 10 s at 10,000/s
BATCH_EVERY = 0.01  # the writer flushes 100 times a second


def record(epoch: int, step: int) -> bytes:
    loss = 0.7 / (1 + 0.0001 * step + epoch)
    acc = min(0.99, 0.5 + 0.00001 * step)
    line = (
        f"\r{step:6d}/{STEPS} [==============>...............] - ETA: 1:23 - "
        f"loss: {loss:.4f} - accuracy: {acc:.4f}"
    )
    if step == STEPS:
        line += f" - val_loss: {loss * 1.1:.4f} - val_accuracy: {acc - 0.05:.4f}\n"
    return line.encode()


def header(epoch: int, epochs: int) -> bytes:
    return f"Epoch {epoch}/{epochs}\n".encode()


def writer(path: Path, rate: int, seconds: float, times_out: Path) -> None:
    """Append records at `rate` per second; save each record's write time by global step."""
    times = array("d")
    epochs = int(rate * seconds / STEPS) + 2
    start = time.monotonic()
    sent = 0
    with open(path, "ab", buffering=0) as out:
        epoch, step = 1, 0
        out.write(header(1, epochs))
        while time.monotonic() - start < seconds:
            due = int((time.monotonic() - start) * rate)
            chunk = []
            while sent < due:
                step += 1
                if step > STEPS:
                    epoch, step = epoch + 1, 1
                    chunk.append(header(epoch, epochs))
                chunk.append(record(epoch, step))
                sent += 1
            if chunk:
                out.write(b"".join(chunk))
                now = time.monotonic()
                times.extend([now] * (len(chunk) - sum(c.startswith(b"Epoch") for c in chunk)))
            time.sleep(BATCH_EVERY)
    times_out.write_bytes(times.tobytes())


def latency(rate: int, seconds: float) -> None:
    from bertmon import process
    from bertmon.tui.app import BertmonApp, tail_specs

    process.prepare()  # as the `bertmon` command does

    work = Path(tempfile.mkdtemp(prefix="bertmon-bench-"))
    log, times_path = work / "live.log", work / "times.bin"
    log.touch()
    app = BertmonApp(tail_specs([log]))
    seen: list[tuple[int, float]] = []  # (global index of the newest point, when it was seen)
    ui_delay: list[float] = []  # from the snapshot's making to the screen having it

    async def main() -> tuple[float, float]:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause(0.5)
            proc = subprocess.Popen(  # noqa: ASYNC220 - started once, before measuring
                [
                    sys.executable,
                    __file__,
                    "--writer",
                    str(log),
                    str(rate),
                    str(seconds),
                    str(times_path),
                ]
            )
            cpu0 = resource.getrusage(resource.RUSAGE_SELF)
            t0 = time.monotonic()
            last = None
            while proc.poll() is None:
                snap = app.screen.primary
                if snap is not last and snap is not None and snap.run is not None:
                    last = snap
                    point = snap.run.last_loss
                    if point is not None and point.step is not None:
                        # the parser's Keras step is global: (epoch - 1) * steps + batch
                        seen.append((point.step, time.monotonic()))
                        ui_delay.append(time.monotonic() - snap.taken_at)
                await asyncio.sleep(0.002)
            wall = time.monotonic() - t0
            cpu1 = resource.getrusage(resource.RUSAGE_SELF)
            cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
            return wall, cpu

    wall, cpu = asyncio.run(main())
    times = array("d")
    times.frombytes(times_path.read_bytes())
    lat = sorted(t - times[i - 1] for i, t in seen if 0 < i <= len(times))
    if not lat:
        print("latency: no snapshot matched a written record")
        return
    pick = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
    print(
        f"writer: {len(times):,} records in {seconds:.0f} s ({len(times) / seconds:,.0f}/s), "
        f"log {log.stat().st_size / 1e6:.1f} MB"
    )
    print(
        f"latency write -> screen data over {len(lat)} snapshots: p50 {pick(0.5) * 1000:.0f} ms, "
        f"p95 {pick(0.95) * 1000:.0f} ms, max {lat[-1] * 1000:.0f} ms (target p95 <= 250 ms)"
    )
    ui_delay.sort()
    print(
        f"of which snapshot made -> screen: p50 {ui_delay[len(ui_delay) // 2] * 1000:.0f} ms, "
        f"p95 {ui_delay[int(0.95 * len(ui_delay))] * 1000:.0f} ms"
    )
    print(f"app CPU: {cpu:.1f} s in {wall:.1f} s wall = {100 * cpu / wall:.0f}% of one core")


def make_big_log(path: Path, size_mb: int) -> None:
    target = size_mb * 1_000_000
    epochs = 1
    with open(path, "wb") as out:
        written = 0
        epoch = 0
        while written < target:
            epoch += 1
            block = [header(epoch, 9999)] + [record(epoch, s) for s in range(1, STEPS + 1)]
            data = b"".join(block)
            out.write(data)
            written += len(data)
            epochs = epoch
    # fix the planned count so the log reads as finished
    data = path.read_bytes().replace(b"/9999\n", f"/{epochs}\n".encode())
    path.write_bytes(data)


def first_screen(path: Path) -> None:
    """Child mode: start the monitor, exit as soon as its first full screen is drawn."""
    from bertmon import process
    from bertmon.tui.app import BertmonApp, tail_specs

    process.prepare()  # as the `bertmon` command does

    app = BertmonApp(tail_specs([path]))

    async def main() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            while True:
                screen = app.screen
                snap = screen.primary
                feed = screen.feeds[0]
                if (
                    snap is not None
                    and feed is not None
                    and snap.bytes_read == path.stat().st_size
                    and feed._rules_records == snap.records
                ):
                    break
                await asyncio.sleep(0.01)
            await pilot.pause()  # let the widgets draw it

    asyncio.run(main())


def first_screen_ratio(size_mb: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="bertmon-bench-"))
    big = work / "finished.log"
    make_big_log(big, size_mb)
    bertmon = Path(sys.executable).parent / "bertmon"
    t0 = time.monotonic()
    subprocess.run(
        [str(bertmon), "analyze", str(big)],
        stdout=subprocess.DEVNULL,
        check=True,
    )
    t_analyze = time.monotonic() - t0
    t0 = time.monotonic()
    subprocess.run([sys.executable, __file__, "--first-screen", str(big)], check=True)
    t_tui = time.monotonic() - t0
    print(
        f"finished log {big.stat().st_size / 1e6:.0f} MB: bertmon analyze {t_analyze:.1f} s, "
        f"monitor first full screen {t_tui:.1f} s = {t_tui / t_analyze:.2f}x (target <= 1.5x)"
    )
    big.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=int, default=10_000)
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--writer", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--first-screen", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.writer:
        path, rate, seconds, out = args.writer
        writer(Path(path), int(rate), float(seconds), Path(out))
        return
    if args.first_screen:
        first_screen(Path(args.first_screen))
        return
    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    latency(args.rate, args.seconds)
    if args.size_mb:
        first_screen_ratio(args.size_mb)


if __name__ == "__main__":
    main()
