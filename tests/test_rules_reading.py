"""How the rules read a run: once per check, through views, in bounded memory, with the numbers
the plain numpy formulas give.

The rules share what they read of a run within one `check_run` (`base.reading`) and read step
series through views of their columns. These tests pin what that must not change: a live run
grows after a check and the next check sees the new values; the chunked and in-place versions
of the rules' arithmetic give the results of the whole-array numpy calls they replace.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bertmon.analyzers.model import EpochRow, Run, Series
from bertmon.analyzers.rules import base, check_run, diverged, loss_spike


def live_run(epochs: int = 4, steps: int = 40) -> Run:
    run = Run(formats=["keras"], epochs_planned=10)
    run.roles.update(train_loss="loss", dev_acc="val_acc")
    loss, val = Series("loss"), Series("val_acc")
    run.series.update(loss=loss, val_acc=val)
    for e in range(1, epochs + 1):
        for i in range(steps):
            loss.append(e, (e - 1) * steps + i + 1, 1.0 / e + 0.01 * math.sin(i))
        val.append(e, None, 0.6 + 0.05 * e)
        run.epochs.append(EpochRow(e, {"loss": loss.values[-1], "val_acc": val.values[-1]}))
    return run


def test_a_live_run_grows_after_a_check_and_the_next_check_reads_it_afresh():
    run = live_run()
    assert not [f for f in check_run(run) if f.rule == "diverged"]
    # no view of a column outlives the check: the parser can still append (an `array` that
    # exports its buffer raises BufferError on append)
    run.series["loss"].append(5, 161, math.nan)
    run.epochs.append(EpochRow(5, {"loss": math.nan, "val_acc": 0.8}))
    run.series["val_acc"].append(5, None, 0.8)
    found = [f for f in check_run(run) if f.rule == "diverged"]
    assert found and found[0].epoch == 5


def test_helpers_outside_a_check_compute_afresh():
    run = live_run()
    before = base.role_points(run, "dev_acc")
    run.epochs.append(EpochRow(5, {"val_acc": 0.9}))
    assert base.role_points(run, "dev_acc") == before + [(5, 0.9)]


def test_finite_values_are_a_read_only_view_of_the_column():
    run = live_run()
    series = run.series["loss"]
    index, values = base.finite_array(series)
    assert isinstance(index, range) and len(index) == len(series)
    assert not values.flags.writeable and not values.flags.owndata
    del values  # a view held on would stop the column growing (BufferError): none may outlive use
    series.append(5, 999, math.inf)
    index, values = base.finite_array(series)
    assert len(values) == len(series) - 1 and int(index[-1]) == len(series) - 2


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=60), st.booleans())
def test_median_in_place_is_numpys_median(values, ties):
    data = np.array(values + values[: len(values) // 2] if ties else values)
    assert loss_spike._median_into(data.copy()) == float(np.median(data))


@pytest.mark.parametrize("n", [12, 400, 5_000, 40_000])
def test_running_window_means_match_the_convolution(n, monkeypatch):
    rng = np.random.default_rng(n)
    values = np.abs(rng.normal(1.0, 0.4, n)) * np.linspace(1, 30, n)
    w = max(3, n // 10)
    smooth = np.convolve(values, np.full(w, 1 / w), mode="valid")
    monkeypatch.setattr(diverged, "_CONVOLVE_MAX", 0)  # the linear path at every size
    monkeypatch.setattr(diverged, "_CHUNK", 1000)  # over several chunks
    first, low, last = diverged._window_means(values, w)
    assert first == pytest.approx(smooth[0], rel=1e-12)
    assert low == pytest.approx(smooth.min(), rel=1e-12)
    assert last == pytest.approx(smooth[-1], rel=1e-12)


def _spikes_whole(values, window, factor, min_rise):
    """The spike search on the whole array at once, as the rule first wrote it."""
    if len(values) <= window:
        return []
    opening = base.median(values[:window].tolist())
    lows = np.lib.stride_tricks.sliding_window_view(values[:-1], window).min(axis=1)
    later = values[window:]
    hits = np.flatnonzero((later >= factor * lows) & (later - lows >= min_rise * opening))
    found = []
    for i in (hits + window).tolist():
        v, b = float(values[i]), base.median(values[i - window : i].tolist())
        if b > 0 and v >= factor * b and v - b >= min_rise * opening:
            found.append((i, v, b))
    return loss_spike._merge(found)


@pytest.mark.parametrize("seed", range(4))
def test_chunked_spike_search_and_smoothing_match_the_whole_array(seed, monkeypatch):
    rng = np.random.default_rng(seed)
    values = np.abs(rng.normal(1.0, 0.3, 3_000))
    values[rng.integers(30, 3_000, 25)] *= rng.choice([3.0, 10.0], 25)
    monkeypatch.setattr(loss_spike, "_CHUNK", 97)  # chunk edges everywhere
    assert loss_spike._spikes(values, 20, 2.5, 0.5) == _spikes_whole(values, 20, 2.5, 0.5)
    k = 15
    windows = np.lib.stride_tricks.sliding_window_view(values, k)
    whole = np.concatenate([[np.median(values[: i + 1]) for i in range(k - 1)],
                            np.median(windows, axis=1)])
    assert np.array_equal(loss_spike._smoothed(values, k, 0, len(values)), whole)
    # smoothed a chunk at a time inside the search: the same spikes as smoothing it all first
    for at in rng.integers(30, 2_950, 6):
        values[at : at + 20] *= 6.0  # bursts that outlast the smoothing
    whole = loss_spike._smoothed(values, k, 0, len(values))
    found = loss_spike._spikes(values, 20, 2.5, 0.5, smooth=k)
    assert found and found == _spikes_whole(whole, 20, 2.5, 0.5)


def test_noise_of_a_long_series_is_measured_on_a_sample(monkeypatch):
    rng = np.random.default_rng(3)
    values = np.abs(rng.normal(1.0, 0.3, 50_000))
    whole = loss_spike._noise(values)
    monkeypatch.setattr(loss_spike, "NOISE_SAMPLE", 5_000)  # every 10th point and its successor
    sampled = loss_spike._noise(values)
    assert sampled != whole and sampled == pytest.approx(whole, rel=0.05)
    monkeypatch.setattr(loss_spike, "NOISE_SAMPLE", 50_000)
    assert loss_spike._noise(values) == whole


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-5, 5), min_size=1, max_size=80), st.integers(1, 40))
def test_the_window_minimum_by_doubling_is_each_window_s_least(values, window):
    from bertmon.analyzers.rules.loss_spike import _window_min

    x = np.array(values)
    if window > len(x):
        return
    assert _window_min(x, window).tolist() == [min(values[j:j + window])
                                               for j in range(len(values) - window + 1)]
