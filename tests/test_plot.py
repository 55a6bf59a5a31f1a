"""`bertmon plot`, `analyze --plot`, `compare --plot` and the monitor's PNG export.

Real sample logs are drawn and the saved image is read back: its size, that it is not blank, and
that the best epoch, the non-finite values and the findings are marked where `bertmon analyze
--format json` (the real command) says they are, pixel for pixel.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from matplotlib import colors as mcolors
from matplotlib import image as mimage
from test_tui_support import SAMPLES, SEED000, SEED001, SIZE, analyze_json, caught_up, wait_for

from bertmon.analyzers import analyze, parse_path
from bertmon.cli import main
from bertmon.plots.data import spread_over_epochs, step_points
from bertmon.plots.figure import BEST_COLOR, NONFINITE_COLOR, SEVERITY_COLOR, plot_run

NAN_LOG = SAMPLES / "keras3_nan_pty.log"
DRAWN = ["seed000_tf_reference.log", "seed001_frozen_cola.log", "keras3_nan_pty.log",
         "hf_trainer_file.log", "tqdm_loop_pty.log", "keras3_crash_file.log",
         "keras3_restart_file.log", "tqdm_ncols80_file.log"]


def read_png(path: Path) -> np.ndarray:
    image = mimage.imread(path)
    assert image.ndim == 3 and image.shape[2] in (3, 4)
    return image[:, :, :3]


def assert_not_blank(image: np.ndarray) -> None:
    ink = np.any(image < 0.9, axis=2).mean()  # share of pixels that are not (near) white
    assert 0.02 < ink < 0.6, ink
    distinct = len(np.unique((image * 255).astype(np.uint8).reshape(-1, 3), axis=0))
    assert distinct > 50, distinct


def colour_near(image: np.ndarray, col: float, row: float, colour: str, radius: int = 4,
                tol: float = 0.12) -> int:
    """How many pixels within `radius` of (col, row) have `colour`."""
    want = np.array(mcolors.to_rgb(colour))
    r0, c0 = int(round(row)), int(round(col))
    patch = image[max(0, r0 - radius): r0 + radius + 1, max(0, c0 - radius): c0 + radius + 1]
    return int((np.abs(patch - want).max(axis=2) < tol).sum())


def drawn(path: Path):
    analysis = parse_path(path)
    analyze(analysis)
    return analysis, plot_run(analysis.runs[-1], str(path))


@pytest.mark.parametrize("name", DRAWN)
def test_plot_command_draws_each_sample_log(name: str, tmp_path: Path) -> None:
    out = tmp_path / "fig.png"
    assert main(["plot", str(SAMPLES / name), "-o", str(out)]) == 0
    image = read_png(out)
    assert image.shape[1] == 1000 and image.shape[0] >= 700  # 10 x 7 in at 100 dpi, or taller
    assert_not_blank(image)


def test_best_epoch_and_findings_are_marked_where_the_analysis_says(tmp_path: Path) -> None:
    doc = analyze_json(SEED000)["runs"][0]
    analysis, fig = drawn(SEED000)
    out = fig.save(tmp_path / "seed000.png")
    image = read_png(out)

    best = [m for m in fig.marks if m.kind == "best"]
    assert [(m.label, m.x, m.y) for m in best] == [
        (doc["best"]["metric"], doc["best"]["epoch"], doc["best"]["value"])]
    col, row = fig.pixel(best[0])
    assert colour_near(image, col, row, BEST_COLOR, radius=5) > 20  # the star itself
    # and nowhere else on that curve: one epoch later the star is absent
    other = type(best[0])(**{**best[0].__dict__, "x": best[0].x + 1})
    assert colour_near(image, *fig.pixel(other), BEST_COLOR, radius=5) < 5

    findings = [m for m in fig.marks if m.kind == "finding"]
    severity = {f["rule"]: f["severity"] for f in doc["findings"]}
    assert sorted((m.label, m.x) for m in findings) == sorted(
        (f["rule"], f["epoch"]) for f in doc["findings"])
    assert len(findings) == 3
    for mark in findings:
        assert mark.color == SEVERITY_COLOR[severity[mark.label]]
        assert colour_near(image, *fig.pixel(mark), mark.color) > 10, mark.label


def test_nan_and_inf_are_marked_not_dropped(tmp_path: Path) -> None:
    doc = analyze_json(NAN_LOG)["runs"][-1]
    expected = sorted(
        (name, float(row["epoch"]))
        for row in doc["epochs"] for name, v in row["metrics"].items()
        if v in ("NaN", "Infinity", "-Infinity") and name in (doc["roles"].values())
    )
    assert expected, "the sample log holds non-finite epoch values"
    analysis, fig = drawn(NAN_LOG)
    image = read_png(fig.save(tmp_path / "nan.png"))
    per_epoch = sorted((m.label.rsplit(" ", 1)[0], m.x) for m in fig.marks
                       if m.kind == "nonfinite" and m.x.is_integer()
                       and m.y_axes == max(k.y_axes for k in fig.marks if k.kind == "nonfinite"))
    assert per_epoch == expected
    for mark in fig.marks:
        if mark.kind == "nonfinite":
            assert colour_near(image, *fig.pixel(mark), NONFINITE_COLOR, radius=3) > 3
    # every non-finite step value is marked, at its place among the steps
    name, x, y = step_points(analysis.runs[-1])
    bad_x = sorted(x[~np.isfinite(y)].tolist())
    marked = sorted(m.x for m in fig.marks if m.kind == "nonfinite" and m.label.startswith(name)
                    and m.y_axes != max(k.y_axes for k in fig.marks if k.kind == "nonfinite"))
    assert bad_x and marked == bad_x


def test_steps_are_spread_over_their_epoch() -> None:
    analysis = parse_path(SAMPLES / "keras3_verbose1_pty.log")
    name, x, _ = step_points(analysis.runs[-1])
    epochs = np.frombuffer(analysis.runs[-1].series[name].epochs)[: len(x)]
    assert np.all((x > epochs - 1) & (x <= epochs))
    for e in np.unique(epochs):  # the last step of each epoch sits on the epoch's own x
        assert x[epochs == e].max() == e
    # a run that stopped early in an epoch ends early in it: the crash came at step 13 of 12
    # per epoch, the first step of epoch 2
    crashed = parse_path(SAMPLES / "keras3_crash_file.log").runs[-1]
    assert crashed.steps_per_epoch == 12
    name, x, _ = step_points(crashed)
    assert x[-1] == 13 / 12 and x[0] == 1 / 12
    # steps counted within each epoch (fit called once an epoch) are placed in their epoch
    loop = parse_path(SAMPLES / "keras3_fit_epoch_loop_file.log").runs[-1]
    _, x, _ = step_points(loop)
    epochs = np.frombuffer(loop.series["loss"].epochs)[: len(x)]
    assert np.all((x > epochs - 1) & (x <= epochs)) and x.max() == 4
    # a Trainer's fractional epochs are already positions
    assert spread_over_epochs(np.array([0.25, 0.5, 1.0]), 1).tolist() == [0.25, 0.5, 1.0]
    # a summary-only series is not a per-step series
    assert step_points(parse_path(SEED000).runs[0]) is None


def test_compare_overlays_two_runs_and_markdown_references_the_image(
        tmp_path: Path, capsys) -> None:
    out = tmp_path / "cmp.png"
    assert main(["compare", str(SEED000), str(SEED001), "-f", "markdown", "--plot",
                 str(out)]) == 0
    text = capsys.readouterr().out
    assert text.splitlines()[2] == f"![bertmon compare plot]({out.as_posix()})"
    image = read_png(out)
    assert image.shape[1] == 1000
    assert_not_blank(image)
    from bertmon.plots.figure import RUN_COLOR, plot_comparison

    a, b = parse_path(SEED000), parse_path(SEED001)
    analyze(a)
    analyze(b)
    fig = plot_comparison(a.runs[0], b.runs[0])
    image = read_png(fig.save(tmp_path / "again.png"))
    best = {m.label: m for m in fig.marks if m.kind == "best"}
    want_a, want_b = a.runs[0].best_dev(), b.runs[0].best_dev()
    assert (best[f"A {want_a[0]}"].x, best[f"B {want_b[0]}"].x) == (want_a[1], want_b[1])
    for mark, colour in ((best[f"A {want_a[0]}"], RUN_COLOR[0]),
                         (best[f"B {want_b[0]}"], RUN_COLOR[1])):
        assert colour_near(image, *fig.pixel(mark), colour, radius=5) > 20


def test_analyze_plot_with_markdown_svg_and_pdf(tmp_path: Path, capsys) -> None:
    svg = tmp_path / "run.svg"
    assert main(["analyze", "-f", "markdown", "--plot", str(svg), str(SEED001)]) == 0
    report = capsys.readouterr().out
    assert f"![bertmon plot of {SEED001}]({svg.as_posix()})" in report.splitlines()
    assert "dev_above_train" in report
    assert b"<svg" in svg.read_bytes()[:2000]
    pdf = tmp_path / "run.pdf"
    assert main(["plot", str(SEED001), "-o", str(pdf)]) == 0
    assert pdf.read_bytes().startswith(b"%PDF")
    assert capsys.readouterr().out == f"{pdf}\n"  # `plot` says where the figure went
    assert main(["analyze", "-f", "json", "--plot", str(tmp_path / "j.png"), str(SEED001)]) == 0
    assert capsys.readouterr().out.lstrip().startswith("{")  # json stays one document


def test_default_output_name_and_bad_names(tmp_path: Path, capsys) -> None:
    code = subprocess.run([sys.executable, "-m", "bertmon", "plot", str(SEED001)],
                          cwd=tmp_path, capture_output=True, text=True)
    assert code.returncode == 0 and (tmp_path / "bertmon-seed001_frozen_cola.png").is_file()
    for argv, words in (
        (["plot", str(SEED001), "-o", str(tmp_path / "x.jpg")], ".png, .svg or .pdf"),
        (["plot", str(tmp_path / "missing.log")], "no such file"),
        (["plot", str(SEED001), "--run", "3", "-o", str(tmp_path / "y.png")], "1 run(s)"),
        (["plot", str(SEED001), "-o", str(tmp_path / "no" / "dir.png")], "cannot write"),
    ):
        proc = subprocess.run([sys.executable, "-m", "bertmon", *argv], capture_output=True,
                              text=True, cwd=tmp_path)
        assert proc.returncode == 2, (argv, proc.stderr)
        assert len(proc.stderr.strip().splitlines()) == 1 and words in proc.stderr, proc.stderr


@pytest.mark.parametrize("argv", [
    ["plot", str(SEED001), "-o", "x.png"],
    ["analyze", "--plot", "x.png", str(SEED001)],
    ["compare", "--plot", "x.png", str(SEED000), str(SEED001)],
])
def test_missing_matplotlib_is_one_line_and_exit_2(argv: list[str], tmp_path: Path) -> None:
    code = ("import sys; sys.modules['matplotlib'] = None; from bertmon.cli import main; "
            f"sys.exit(main({argv!r}))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (f"bertmon {argv[0]}: plotting needs matplotlib, which is not "
                                   "installed: pip install 'bertmon[plot]'")
    assert proc.stdout == "" and not (tmp_path / "x.png").exists()


def test_headless_core_and_plain_analyze_never_import_matplotlib(tmp_path: Path) -> None:
    code = ("import sys; from bertmon.cli import main; import bertmon.analyzers.report; "
            f"main(['analyze', '-f', 'json', {str(SEED001)!r}]); "
            "print('matplotlib' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert proc.stdout.strip().splitlines()[-1] == "False"


async def test_monitor_export_key_writes_the_png(tmp_path: Path) -> None:
    from bertmon.tui.app import BertmonApp, tail_specs
    from test_tui_support import frozen_clock

    app = BertmonApp(tail_specs([SEED000]), export_dir=tmp_path, clock=frozen_clock)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, caught_up(app))
        await pilot.press("e")
        await wait_for(pilot, lambda: len(app.screen.exported) == 4, timeout=30)
        exported = app.screen.exported
    png = tmp_path / "bertmon-seed000_tf_reference.log-plot.png"
    assert png in exported
    image = read_png(png)
    assert image.shape[:2] == (700, 1000)
    assert_not_blank(image)
