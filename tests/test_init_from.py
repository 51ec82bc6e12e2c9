"""`config.init_from`: meta-training starts from a stored theta (fine-tuning), and a
`config.tasks` entry may name its family (two families of one kind)."""

import jax
import numpy as np
import pytest

import learned_opt
from configs import quickstart
from meta_train import main as program


def tiny_config():
  config = quickstart.get_config()
  config.num_steps = 1
  config.checkpoint_every = 1
  config.log_every = 1
  config.eval.every = 0
  config.lopt.hidden_sizes = (4,)
  config.tasks = {"a": {"family": "quadratic", "dim": 4}, "b": {"family": "quadratic", "dim": 6}}
  config.estimator.num_pairs = 1
  config.estimator.trunc_length = 2
  config.estimator.horizon_truncations = (1, 2)
  return config


def test_starts_from_the_stored_theta_and_labels_name_families(tmp_path):
  config = tiny_config()
  source = tmp_path / "source"
  lopt = program.build_lopt(config)
  theta = jax.tree.map(lambda x: x + 0.5, lopt.init(jax.random.PRNGKey(3)))
  learned_opt.save(source, lopt, theta)

  config.init_from = str(source)
  run = program.setup(config, str(tmp_path / "w"))
  run.checkpoints.close()
  assert set(run.trainer.estimators) == {"a", "b"}
  for a, b in zip(jax.tree.leaves(run.state.theta), jax.tree.leaves(theta), strict=True):
    np.testing.assert_array_equal(a, b)


def test_another_architecture_is_refused_before_the_workdir_is_made(tmp_path):
  config = tiny_config()
  config.init_from = "pretrained:residual_muon_v2"
  with pytest.raises(ValueError, match="residual_muon"):
    program.setup(config, str(tmp_path / "w"))
  assert not (tmp_path / "w").exists()
