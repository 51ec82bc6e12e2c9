"""The comparison suite's tuners beside the grid (`config.tune.method`): CEHPO (T5-42,
`baselines.suite.cehpo`) and AutoLRS (T5-31, `baselines.suite.autolrs`), and the protocol
that keeps the grid's output directories valid."""

import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from fake_sweep import fake_sweep

import baselines
import tasks
from baselines.registry import Choice, LogRange
from baselines.suite import autolrs, cehpo, cells
from baselines.suite.cells import Suite
from configs import suite_smoke

# --------------------------------------------------------------------------------------------
# CEHPO: the cross-entropy method.
# --------------------------------------------------------------------------------------------


def test_cehpo_concentrates_on_the_minimum_and_keeps_every_evaluation():
  space = {"learning_rate": LogRange(1e-4, 1.0), "kind": Choice(("a", "b", "c"))}
  calls = []

  def evaluate(settings):
    calls.append(len(settings))
    return [
      (math.log10(s["learning_rate"]) + 2.5) ** 2 + (0.0 if s["kind"] == "b" else 1.0)
      for s in settings
    ]

  options = cehpo.Options(population=20, iterations=5, elite_fraction=0.2, smoothing=0.7)
  history = cehpo.search(space, evaluate, options)
  assert calls == [20] * 5 and len(history) == 100
  last = [s for s, _ in history[-20:]]
  assert abs(np.median([math.log10(s["learning_rate"]) for s in last]) + 2.5) < 0.3
  assert sum(s["kind"] == "b" for s in last) >= 15
  assert all(1e-4 <= s["learning_rate"] <= 1.0 for s, _ in history)


def test_cehpo_ranks_diverged_settings_last():
  space = {"learning_rate": LogRange(1e-3, 1.0)}
  # Every rate above 0.1 diverges: the elite comes from below it.
  evaluate = lambda ss: [math.inf if s["learning_rate"] > 0.1 else -s["learning_rate"] for s in ss]
  options = cehpo.Options(population=8, iterations=3, elite_fraction=0.25, smoothing=1.0)
  history = cehpo.search(space, evaluate, options)
  best = min(history, key=lambda h: h[1])[0]["learning_rate"]
  assert best <= 0.1 and np.mean([s["learning_rate"] <= 0.1 for s, _ in history[-8:]]) > 0.5


def test_cehpo_options_are_checked():
  with pytest.raises(ValueError, match="elite"):
    cehpo.Options(population=4, elite_fraction=0.05).num_elite()


# --------------------------------------------------------------------------------------------
# AutoLRS: the exponential forecast, the schedule, the search.
# --------------------------------------------------------------------------------------------


def test_forecast_extrapolates_an_exponential_loss_curve():
  t = np.arange(1, 21)
  losses = 0.5 + 2.0 * np.exp(-0.1 * t)
  assert autolrs.forecast(losses, 200) == pytest.approx(0.5 + 2.0 * math.exp(-20.0), abs=1e-3)
  assert autolrs.forecast(np.array([1.0, np.nan, 0.5]), 10) == autolrs.DIVERGED


def test_schedule_setting_becomes_a_piecewise_constant_learning_rate():
  hp = autolrs.as_hparams({"learning_rate": (0.1, 0.01, 0.001), "stage_steps": (2, 4, 8)})
  lr = hp["learning_rate"]
  got = jax.vmap(lr)(jnp.array([0, 1, 2, 5, 6, 13]))
  np.testing.assert_allclose(got, [0.1, 0.1, 0.01, 0.01, 0.001, 0.001], rtol=1e-6)
  assert autolrs.as_hparams({"learning_rate": 0.3}) == {"learning_rate": 0.3}


def test_autolrs_search_covers_the_horizon_and_avoids_diverging_rates():
  task = tasks.get("quadratic_10d")
  make_opt = lambda s: baselines.get("adamw", **autolrs.as_hparams(s))
  options = autolrs.Options(first_stage=0.25, lookahead=0.2, candidates=4)
  found = autolrs.search(
    task, make_opt, LogRange(1e-4, 1.0), (0, 1), num_steps=40, extra_args=(), options=options
  )
  assert sum(found.stage_steps) == 40 and found.stage_steps == (10, 20, 10)
  assert found.lookahead_steps == 4 * (2 + 4 + 8)  # candidates x a fifth of each stage
  for lr, predictions in zip(found.learning_rates, found.predictions, strict=True):
    assert 1e-4 <= lr <= 1.0 and len(predictions) == 4
    assert min(p for _, p in predictions) == dict(predictions)[lr]


# --------------------------------------------------------------------------------------------
# The suite: selection by config, the protocol of an output directory.
# --------------------------------------------------------------------------------------------


def _config(tmp_path, **tune):
  config = suite_smoke.get_config()
  config.outdir = str(tmp_path / "out")
  config.tasks = ("quadratic_10d",)
  config.optimizers = ("adamw",)
  for k, v in tune.items():
    config.tune[k] = v
  return config


def test_the_grids_protocol_is_unchanged_so_its_outdirs_stay_valid(tmp_path):
  grid = Suite.from_config(_config(tmp_path))
  assert grid.protocol_json()["tune"] == {"params": ["learning_rate"], "grid_points": 3}
  grid.write_config()  # an outdir of the grid refuses another tuner
  with pytest.raises(ValueError, match="holds a comparison run with protocol"):
    Suite.from_config(_config(tmp_path, method="cehpo"))
  stored = json.loads((tmp_path / "out" / "config.json").read_text())["protocol"]
  assert stored == Suite.from_config(_config(tmp_path)).protocol_json()


def test_a_tuner_is_part_of_the_protocol(tmp_path):
  p = Suite.from_config(_config(tmp_path, method="cehpo")).protocol_json()["tune"]
  assert p["method"] == "cehpo" and p["cehpo"]["population"] == 4 and "autolrs" not in p


@pytest.mark.parametrize(
  ("tune", "message"),
  [
    ({"method": "bayes"}, "choose one of"),
    ({"method": "autolrs", "params": ("*",)}, "learning rate alone"),
    ({"method": "autolrs", "autolrs": {"first_stage": 0.001}}, "whole number of steps"),
    ({"method": "cehpo", "cehpo": {"populace": 3}}, "has no option"),
  ],
)
def test_bad_tuner_config_is_one_readable_error(tmp_path, tune, message):
  with pytest.raises(ValueError, match=message):
    Suite.from_config(_config(tmp_path, **tune))


def test_cehpo_cell_reruns_the_best_evaluated_setting(tmp_path, monkeypatch):
  calls = []
  monkeypatch.setattr(cells, "sweep", fake_sweep(calls))
  config = _config(tmp_path, method="cehpo", cehpo={"population": 3, "iterations": 2})
  config.defaults_column = False
  suite = Suite.from_config(config)
  ((task, opt),) = suite.cells()
  records = suite.run_cell(task, opt)
  assert "error" not in records[0], records[0]
  assert [len(settings) for _, settings in calls] == [3, 3, 1]  # two rounds, the rerun
  tried = [s for _, settings in calls[:2] for s in settings]
  tune = [r for r in records if r["role"] == "tune"]
  assert [r["hparams"] for r in tune[:: len(suite.tuning_seeds)]] == tried
  assert all(r["tuner"] == "cehpo" for r in tune)
  best = min(range(6), key=lambda i: (math.log10(tried[i]["learning_rate"]) + 2.0) ** 2)
  assert calls[2][1] == [tried[best]]
  assert {r["setting"] for r in records if r["role"] == "rerun"} == {best}
