"""The shipped pretrained learned optimizer: a regression test of the artifact itself."""

import functools
import json
import os
import subprocess
import sys

import numpy as np
import optax
import pytest

import learned_opt
import tasks

NAME = "residual_muon_v2_avg"  # the default, which the demo loads
SHIPPED = ("residual_muon_v1", "residual_muon_v2", "residual_muon_v2_avg")


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_and_listed_with_a_model_card(name):
  assert name in learned_opt.pretrained.names()
  path = learned_opt.pretrained.path(name)
  card = open(os.path.join(path, "README.md")).read()
  for section in ("Recipe", "Compute", "Evaluation"):
    assert f"## {section}" in card
  # The record is plain JSON naming the architecture and its inputs; theta holds arrays only.
  rec = learned_opt.read_record(f"pretrained:{name}")
  assert rec["architecture"] == "residual_muon"
  assert rec["features"] == list(rec["config"]["features"])
  files = [os.path.join(d, f) for d, _, fs in os.walk(path) for f in fs]
  assert not [f for f in files if f.endswith((".pkl", ".pickle", ".npy"))]
  json.dumps(rec)


def test_unknown_name_and_bad_override_are_clear():
  with pytest.raises(learned_opt.CheckpointError, match=r"Did you mean .*'residual_muon_v2'"):
    learned_opt.load("pretrained:residual_muon_v3")
  with pytest.raises(learned_opt.CheckpointError, match="no option"):
    learned_opt.load(f"pretrained:{NAME}", num_steps=10, learning_rat=0.1)
  with pytest.raises(learned_opt.CheckpointError, match="does not fit"):
    learned_opt.load(f"pretrained:{NAME}", num_steps=10, hidden_sizes=(3,))


@functools.cache
def _adam_run(steps):
  """Adam at 1e-3 on the held-out task: the same run for every shipped rule."""
  return tasks.train(tasks.get("digits_mlp_64x64"), optax.adam(1e-3), num_steps=steps, seed=0)


@pytest.mark.parametrize("name", SHIPPED)
def test_trains_a_heldout_task_below_adam_at_its_default_rate(name):
  task = tasks.get("digits_mlp_64x64")  # META_TEST: wider and deeper than meta-training
  steps = 300
  ours = tasks.train(
    task, learned_opt.load(f"pretrained:{name}", num_steps=steps), num_steps=steps, seed=0
  )
  adam = _adam_run(steps)
  assert np.isfinite(ours["train_loss"]).all()
  assert ours["train_loss"][-30:].mean() < adam["train_loss"][-30:].mean()
  # The learning-rate override scales the step: a 100x smaller rate barely trains.
  tiny = learned_opt.load(f"pretrained:{name}", num_steps=steps, learning_rate=2e-4)
  slow = tasks.train(task, tiny, num_steps=steps, seed=0)
  assert slow["train_loss"][-30:].mean() > ours["train_loss"][-30:].mean()


def test_demo_shows_the_shipped_rule_next_to_adam(tmp_path):
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  result = subprocess.run(
    [
      sys.executable,
      "-m",
      "meta_train.demo",
      f"--workdir={tmp_path}",
      "--config.demo.num_steps=30",
      "--config.demo.seeds=(0,)",
      "--config.demo.heldout_tasks=('digits_mlp_64x64',)",
      "--config.demo.adam_learning_rates=(0.001,)",
    ],
    cwd=root,
    capture_output=True,
    text=True,
    timeout=600,
  )
  assert result.returncode == 0, result.stderr[-3000:]
  assert "learned (residual_muon)" in result.stdout and "adam lr=0.001" in result.stdout
  assert "Meta-training" not in result.stdout  # nothing is meta-trained: the rule is shipped
  assert os.path.getsize(tmp_path / "demo_curves.png") > 10_000
  saved = json.load(open(tmp_path / "demo_results.json"))
  assert saved["learned"] == f"pretrained:{NAME}" and "digits_mlp_64x64" in saved["results"]
