"""The shipped nowcasters `pretrained:nino_zoo`, `nino_zoo_8k`, `nino_zoo_v2`,
`nino_zoo_v2_guided`: regression tests."""

import os

import numpy as np
import optax
import pytest

import learned_opt
import tasks
from learned_opt import nino

# Steps 1,000 and 8,000 of configs/nino_zoo.py, 12,000 of nino_zoo_v2.py; and the last with
# loss-guided jumps (long_runs/nino_guided).
NAMES = ("nino_zoo", "nino_zoo_8k", "nino_zoo_v2", "nino_zoo_v2_guided")


@pytest.mark.parametrize("name", NAMES)
def test_shipped_and_listed_with_a_model_card(name):
  assert name in learned_opt.pretrained.names()
  card = open(os.path.join(learned_opt.pretrained.path(name), "README.md")).read()
  for section in ("Recipe", "Compute", "Evaluation"):
    assert f"## {section}" in card
  lopt, _ = learned_opt.load_theta(f"pretrained:{name}")
  # configs/nino_zoo.py's nowcaster: Adam at 1e-3, a jump every 100 steps.
  assert isinstance(lopt, nino.Nino)
  assert (lopt.context, lopt.hidden, lopt.layers) == (5, 16, 2)
  assert (lopt.every, lopt.base_learning_rate) == (100, 1e-3)


@pytest.mark.parametrize("name", NAMES)
def test_nowcasts_a_heldout_task_ahead_of_its_base_adam(name):
  """On a META_TEST task (never in its trajectories): Adam's steps until the first jump,
  then lower training losses than Adam at the same rate from the same start (0.59x its mean
  over the last 50 of 200 steps for nino_zoo when shipped)."""
  task = tasks.get("digits_mlp_64x64")
  steps = 200  # one jump, at step 100
  lopt, _ = learned_opt.load_theta(f"pretrained:{name}")
  ours = tasks.train(
    task,
    learned_opt.load(f"pretrained:{name}"),
    num_steps=steps,
    extra_args=("value", *lopt.update_args),
  )["train_loss"]
  adam = tasks.train(task, optax.adam(1e-3), num_steps=steps)["train_loss"]
  np.testing.assert_allclose(ours[:100], adam[:100], rtol=1e-5)
  assert np.all(np.isfinite(ours))
  assert ours[-50:].mean() < 0.8 * adam[-50:].mean(), (ours[-50:].mean(), adam[-50:].mean())


def test_loss_guided_jumps_load_as_an_override_and_need_the_loss():
  """`jump_scales=` at load: the update then needs `value_fn`, which `tasks.train` passes when
  asked; on the held-out task the guided jump is at least as low as the plain one right after
  it (it goes as far as the loss on the batch says)."""
  name = "pretrained:nino_zoo_v2"
  lopt, _ = learned_opt.load_theta(name)
  assert lopt.update_args == ()
  guided_lopt = learned_opt.registry.get(
    "nino", **{**learned_opt.registry.config_of(lopt), "jump_scales": (1.0, 2.0, 4.0)}
  )
  assert guided_lopt.update_args == ("value_fn",)
  task = tasks.get("digits_mlp_64x64")
  guided = learned_opt.load(name, jump_scales=(1.0, 2.0, 4.0))
  with pytest.raises(ValueError, match="value_fn"):
    tasks.train(task, guided, num_steps=100)
  ours = tasks.train(task, guided, num_steps=120, extra_args=("value", "value_fn"))
  plain = tasks.train(task, learned_opt.load(name), num_steps=120)
  np.testing.assert_allclose(ours["train_loss"][:100], plain["train_loss"][:100], rtol=1e-5)
  assert np.all(np.isfinite(ours["train_loss"]))
  assert ours["train_loss"][100:].mean() <= 1.05 * plain["train_loss"][100:].mean()
  with pytest.raises(learned_opt.CheckpointError, match="jump_scales"):
    learned_opt.load(name, jump_scales=(-1.0,))
