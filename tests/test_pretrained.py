"""The shipped pretrained learned optimizer: a regression test of the artifact itself."""

import functools
import json
import os
import subprocess
import sys

import jax
import numpy as np
import optax
import pytest

import learned_opt
import tasks
from tasks.training import training_run

NAME = "residual_muon_v4"  # the default, which the demo loads
SHIPPED = ("residual_muon_v1", "residual_muon_v2", "residual_muon_v2_avg", "residual_muon_v4")


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


STEPS = 300


@functools.cache
def _heldout_losses():
  """Training losses on a held-out task (META_TEST: wider and deeper than meta-training),
  one initialization and one batch order for all: Adam at 1e-3, and each shipped rule as
  `learned_opt.load` builds it (its stored rule, `opt(theta, num_steps=STEPS)`). theta and
  the data are arguments of one program per rule configuration, so the rules that share
  one (v2 and v2_avg) share their program."""
  task = tasks.get("digits_mlp_64x64")
  samplers = {split: task.batches(split) for split in tasks.SPLITS}
  key = jax.random.PRNGKey(0)

  def losses(optimizer, samplers):
    return training_run(task, optimizer, samplers, key, num_steps=STEPS)["train_loss"]

  out = {"adam": np.asarray(jax.jit(lambda s: losses(optax.adam(1e-3), s))(samplers))}
  programs = {}
  for name in SHIPPED:
    lopt, theta = learned_opt.load_theta(f"pretrained:{name}")
    if lopt not in programs:
      programs[lopt] = jax.jit(
        lambda theta, s, lopt=lopt: losses(lopt.opt(theta, num_steps=STEPS), s)
      )
    out[name] = np.asarray(programs[lopt](theta, samplers))
  return out


@pytest.mark.parametrize("name", SHIPPED)
def test_trains_a_heldout_task_below_adam_at_its_default_rate(name):
  losses = _heldout_losses()
  assert np.isfinite(losses[name]).all()
  assert losses[name][-30:].mean() < losses["adam"][-30:].mean()
  # `load` gives that rule, and its learning-rate override scales every step: 100x smaller.
  task = tasks.get("digits_mlp_64x64")
  params = task.init(jax.random.PRNGKey(1))
  grads = jax.grad(task.loss)(params, None, task.batches("train").sample(jax.random.PRNGKey(2)))
  lopt, theta = learned_opt.load_theta(f"pretrained:{name}")

  def first_update(opt):
    return opt.update(grads, opt.init(params), params)[0]

  stored = first_update(lopt.opt(theta, num_steps=STEPS))
  loaded = first_update(learned_opt.load(f"pretrained:{name}", num_steps=STEPS))
  tiny = first_update(learned_opt.load(f"pretrained:{name}", num_steps=STEPS, learning_rate=2e-4))
  for s, u, t in zip(*map(jax.tree.leaves, (stored, loaded, tiny)), strict=True):
    np.testing.assert_array_equal(u, s)
    assert np.abs(u).max() > 0
    np.testing.assert_allclose(t, 0.01 * u, rtol=1e-5, atol=1e-12)


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
