"""Batch-size scaling rules (T5-41, `baselines.schedules.batch_scaling`) and their use by the
comparison suite (`config.tune.batch_size`)."""

import math

import pytest
from fake_sweep import fake_sweep

import baselines
from baselines.schedules import batch_scaling
from baselines.suite import cells
from baselines.suite.cells import Suite
from configs import suite_smoke


def _half_life_in_samples(beta, batch):
  return math.log(0.5) / math.log(beta) * batch


def test_sgd_scales_linearly():
  out = batch_scaling.scale_hparams("momentum", {"learning_rate": 0.1}, from_batch=32, to_batch=128)
  assert out == {"learning_rate": pytest.approx(0.4)}
  assert batch_scaling.rule("sgd") == "linear"


def test_adam_scales_by_the_square_root_and_keeps_b2s_half_life_in_samples():
  hp = {"learning_rate": 1e-3, "b1": 0.9, "b2": 0.95}
  out = batch_scaling.scale_hparams("adamw", hp, from_batch=128, to_batch=8)
  assert out["learning_rate"] == pytest.approx(1e-3 / 4)
  assert out["b1"] == 0.9  # kept
  assert _half_life_in_samples(out["b2"], 8) == pytest.approx(_half_life_in_samples(0.95, 128))
  # b2 not given: the entry's default (0.999) is rescaled.
  default = batch_scaling.scale_hparams("adam", {"learning_rate": 1e-3}, from_batch=1, to_batch=2)
  assert default["b2"] == pytest.approx(0.999**2)
  # RMSprop's decay is its second-moment decay.
  rms = batch_scaling.scale_hparams("rmsprop", {"learning_rate": 1e-2}, from_batch=4, to_batch=16)
  assert rms["learning_rate"] == pytest.approx(2e-2)
  assert rms["decay"] == pytest.approx(baselines.entry("rmsprop").defaults["decay"] ** 4)


def test_identity_at_the_same_batch_size():
  hp = {"learning_rate": 3e-4, "b2": 0.98}
  assert batch_scaling.scale_hparams("adam", hp, from_batch=64, to_batch=64) == pytest.approx(hp)


def test_no_rule_is_one_readable_error():
  with pytest.raises(ValueError, match="No batch-size scaling rule for 'lion'"):
    batch_scaling.rule("lion")
  with pytest.raises(ValueError, match="positive"):
    batch_scaling.scale_hparams("sgd", {"learning_rate": 1.0}, from_batch=0, to_batch=2)


def test_the_registry_lists_the_rules_as_a_procedure():
  e = baselines.entry("batch_size_lr_scaling_rules")
  assert e.status == "implemented" and e.factory is None and "scale_hparams" in e.procedure
  assert "batch_size_lr_scaling_rules" not in baselines.names()
  with pytest.raises(ValueError, match="procedure"):
    baselines.get("batch_size_lr_scaling_rules")


def _config(tmp_path, batch_size, tasks=("digits_logreg",), optimizers=("adamw",)):
  config = suite_smoke.get_config()
  config.outdir = str(tmp_path / "out")
  config.tasks, config.optimizers = tasks, optimizers
  config.num_steps, config.num_evals, config.tune.grid_points = 20, 2, 2
  config.defaults_column = False
  config.tune.batch_size = batch_size
  return config


def test_suite_tunes_at_the_tuning_batch_and_reruns_the_rescaled_setting(tmp_path, monkeypatch):
  calls = []
  monkeypatch.setattr(cells, "sweep", fake_sweep(calls))
  suite = Suite.from_config(_config(tmp_path, 16))
  assert suite.protocol_json()["tune"]["batch_size"] == 16
  ((task, opt),) = suite.cells()
  records = suite.run_cell(task, opt)
  assert "error" not in records[0], records[0]
  (tuned_at, grid), (reported_at, (rerun,)) = calls
  assert (tuned_at, reported_at) == (16, 64) and grid == list(opt.settings)
  picked = min(grid, key=lambda s: (math.log10(s["learning_rate"]) + 2.0) ** 2)
  want = batch_scaling.scale_hparams("adamw", picked, from_batch=16, to_batch=64)
  assert rerun == pytest.approx(want) and rerun["learning_rate"] == pytest.approx(
    2 * picked["learning_rate"]
  )
  assert all(r["hparams"] == pytest.approx(want) for r in records if r["role"] == "rerun")


@pytest.mark.parametrize(
  ("tasks", "optimizers", "message"),
  [(("quadratic_10d",), ("adamw",), "has no batch size"), (("digits_logreg",), ("lion",), "lion")],
)
def test_suite_refuses_a_batch_size_it_cannot_apply(tmp_path, tasks, optimizers, message):
  with pytest.raises(ValueError, match=message):
    Suite.from_config(_config(tmp_path, 16, tasks, optimizers))
