"""`tasks.train`: one program per (task, optimizer), whatever the seed."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax

import tasks
from tasks import GaussianSampler, Task


@dataclasses.dataclass(frozen=True)
class _Counted(Task):
  """A parabola whose `init` counts how often it is traced (it runs only when tracing)."""

  traces: list = dataclasses.field(default_factory=list, hash=False, compare=False)
  name: str = "counted"

  def init(self, key):
    self.traces.append(1)
    return {"x": jax.random.normal(key, (3,))}

  def loss(self, params, key, batch):
    return 0.5 * jnp.sum(params["x"] ** 2)

  def batches(self, split):
    return GaussianSampler(())

  def normalize(self, loss):
    return loss


def test_train_traces_once_per_task_and_optimizer():
  task = _Counted()
  adam, sgd = optax.adam(1e-2), optax.sgd(1e-1)
  runs = [tasks.train(task, opt, num_steps=5, seed=s) for opt in (adam, sgd) for s in range(3)]
  assert len(task.traces) == 2  # one program per optimizer, shared by the three seeds
  assert not np.array_equal(runs[0]["train_loss"], runs[1]["train_loss"])  # other seeds
  tasks.train(task, adam, num_steps=6)  # another length is another program
  assert len(task.traces) == 3
  # Same numbers as a program of its own.
  samplers = {split: task.batches(split) for split in tasks.SPLITS}
  run = lambda s, k: tasks.training.training_run(task, adam, s, k, num_steps=5)
  fresh = jax.jit(run)(samplers, jax.random.PRNGKey(2))
  np.testing.assert_array_equal(fresh["train_loss"], runs[2]["train_loss"])
