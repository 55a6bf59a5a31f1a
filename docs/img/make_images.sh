#!/usr/bin/env bash
# Remake the README's pictures (a one-time dev step). The monitor's SVG screenshot is turned into
# PNG by Debian's Chromium (apt-get install chromium), which lays the terminal font out as a browser
# does (rsvg-convert from librsvg2-bin also works, with narrower spacing).
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=.venv/bin
$BIN/bertmon plot sample_logs/seed000_tf_reference.log -o docs/img/plot.png
$BIN/python - <<'PY'
import asyncio
from pathlib import Path

from bertmon.tui.app import BertmonApp, tail_specs


async def shoot() -> None:
    app = BertmonApp(tail_specs([Path("sample_logs/seed000_tf_reference.log")]))
    async with app.run_test(size=(150, 44)) as pilot:
        for _ in range(200):  # until the findings are in (read and analysed)
            snap = app.screen.primary
            if snap is not None and snap.run is not None and snap.run.findings:
                break
            await pilot.pause(0.05)
        await pilot.pause(1.0)
        app.save_screenshot("monitor.svg", path="/tmp")


asyncio.run(shoot())
PY
W=$(grep -o 'viewBox="0 0 [0-9.]* [0-9.]*"' /tmp/monitor.svg | awk '{printf "%d,%d", $3, $4 + 1}')
/usr/bin/chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
  --disable-component-update --no-first-run --disable-sync --hide-scrollbars \
  --window-size="$W" --screenshot="$PWD/docs/img/monitor.png" file:///tmp/monitor.svg 2>/dev/null
