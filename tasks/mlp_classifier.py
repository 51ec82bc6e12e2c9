"""MLP classifiers on in-memory image datasets (plain jnp, parameters as nested dicts).

Layers are `dense_0 ... dense_{L-1}` then `out` (no hidden layer: logistic regression);
weights start from a LeCun-normal initialization multiplied by `init_scale`, biases at zero.
Images are read at `resolution` (None: the dataset's own) and flattened. The loss is the
mean softmax cross-entropy of a batch; `normalize` divides it by log(num_classes), the loss
of the uniform prediction, and clips at 1.5. The loss is `loss_of_outputs(outputs(...))`:
the logits and the cross-entropy of those logits, the pair the Gauss-Newton baselines take
as the extra args `output_fn` / `loss_of_outputs` (`tasks.training`). `dense_outputs` also
hands over every dense layer's inputs and takes additive taps on its pre-activations, and
`targets` the one-hot labels: the extra args `dense_fn` / `targets` of ghost clipping and
tpSGD.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax

from tasks import datasets, reparam
from tasks.base import ArraySampler, Task, TaskFamily, check_split

ACTIVATIONS = {
  "relu": jax.nn.relu,
  "tanh": jnp.tanh,
  "gelu": jax.nn.gelu,
  "silu": jax.nn.silu,
  "sigmoid": jax.nn.sigmoid,
}


def _check(dataset: str, activation: str) -> None:
  if dataset not in datasets.NUM_CLASSES and not dataset.startswith("tfds:"):
    raise ValueError(f"Unknown dataset {dataset!r}; available: {datasets.names()}.")
  if activation not in ACTIVATIONS:
    raise ValueError(f"Unknown activation {activation!r}; available: {sorted(ACTIVATIONS)}.")


def _sampler(
  dataset: str, split: str, batch_size: int, resolution: int | None = None, flat: bool = True
) -> ArraySampler:
  check_split(split)
  x, y = datasets.images(dataset, split, resolution)
  if flat:
    x = x.reshape(len(x), -1)
  return ArraySampler({"x": jnp.asarray(x), "y": jnp.asarray(y)}, batch_size)


def dense_init(key, n_in: int, n_out: int, scale=1.0) -> dict[str, jax.Array]:
  """LeCun-normal weights times `scale`, zero biases."""
  return {
    "w": scale * jax.random.normal(key, (n_in, n_out)) / jnp.sqrt(n_in),
    "b": jnp.zeros((n_out,)),
  }


def classifier_normalize(loss, num_classes: int):
  """Cross-entropy in units of log(num_classes), clipped at 1.5 (chance level is 1)."""
  log_c = jnp.log(num_classes)
  return jnp.minimum(loss, 1.5 * log_c) / log_c


@dataclasses.dataclass(frozen=True)
class MLPClassifier(Task):
  """An MLP with hidden widths `hidden` classifying `dataset`."""

  dataset: str = "digits"
  hidden: tuple[int, ...] = (32,)
  activation: str = "relu"
  batch_size: int = 64
  init_scale: float = 1.0
  name: str = "digits_mlp"
  resolution: int | None = None

  def __post_init__(self):
    _check(self.dataset, self.activation)

  def init(self, key):
    n_in = int(np.prod(datasets.image_shape(self.dataset, self.resolution)))
    sizes = (n_in, *self.hidden, datasets.num_classes(self.dataset))
    names = [f"dense_{i}" for i in range(len(self.hidden))] + ["out"]
    keys = jax.random.split(key, len(names))
    return {
      name: dense_init(k, n_in, n_out, self.init_scale)
      for name, k, n_in, n_out in zip(names, keys, sizes[:-1], sizes[1:], strict=True)
    }

  def logits(self, params, x):
    return self.dense_outputs(params, {"x": x})[0]

  def dense_outputs(self, params, batch, taps=None):
    """(logits, inputs): the logits on `batch` with `taps[name]` ([batch, width], None: no
    taps) added to dense layer `name`'s pre-activation `x @ w + b`, and every dense layer's
    input `x` ({name: [batch, fan_in]}); the pair the extra arg `dense_fn` hands over."""
    act = ACTIVATIONS[self.activation]
    x, inputs = batch["x"], {}
    names = [f"dense_{i}" for i in range(len(self.hidden))] + ["out"]
    for name in names:
      inputs[name] = x
      z = x @ params[name]["w"] + params[name]["b"]
      z = z if taps is None else z + taps[name]
      x = z if name == "out" else act(z)
    return x, inputs

  def outputs(self, params, batch):
    """The model's outputs on `batch`: the logits [batch, classes]."""
    return self.logits(params, batch["x"])

  def targets(self, batch):
    """What the loss compares the outputs with: one-hot labels [batch, classes]."""
    return jax.nn.one_hot(batch["y"], datasets.num_classes(self.dataset))

  def loss_of_outputs(self, outputs, batch):
    """The loss as a function of the logits: mean softmax cross-entropy."""
    return optax.softmax_cross_entropy_with_integer_labels(outputs, batch["y"]).mean()

  def loss(self, params, key, batch):
    del key
    return self.loss_of_outputs(self.outputs(params, batch), batch)

  def accuracy(self, params, batch):
    return jnp.mean(jnp.argmax(self.logits(params, batch["x"]), -1) == batch["y"])

  def batches(self, split):
    return _sampler(self.dataset, split, self.batch_size, self.resolution)

  def normalize(self, loss):
    """Cross-entropy in units of log(num_classes), clipped at 1.5 (chance level is 1)."""
    return classifier_normalize(loss, datasets.num_classes(self.dataset))


def log_uniform(key, bounds: tuple[float, float]) -> jax.Array:
  lo, hi = jnp.log(bounds[0]), jnp.log(bounds[1])
  return jnp.exp(jax.random.uniform(key, (), minval=lo, maxval=hi))


@dataclasses.dataclass(frozen=True)
class MLPClassifierFamily(TaskFamily):
  """MLP classifiers of one architecture whose initialization scale is log-uniform.

  The architecture (dataset, resolution, widths `hidden`, activation, batch size) is fixed
  per family so that members share shapes; a member draws `init_scale` and, when
  `reparam` (a log10 range, e.g. (-1, 1)) is set, a fixed scale per parameter tensor (see
  `tasks.reparam`). `tasks.sample_family` draws architectures.
  """

  dataset: str = "digits"
  hidden: tuple[int, ...] = (32,)
  activation: str = "relu"
  batch_size: int = 64
  init_scale: tuple[float, float] = (0.5, 2.0)
  name: str = "digits_mlp"
  resolution: int | None = None
  reparam: tuple[float, float] | None = None

  def __post_init__(self):
    _check(self.dataset, self.activation)

  def _task(self, **cfg):
    return MLPClassifier(
      dataset=self.dataset,
      hidden=tuple(self.hidden),
      activation=self.activation,
      batch_size=self.batch_size,
      name=self.name,
      resolution=self.resolution,
      **cfg,
    )

  def sample(self, key):
    cfg = {"init_scale": log_uniform(key, self.init_scale)}
    return reparam.add_scales(cfg, jax.random.fold_in(key, 1), self._task(), self.reparam)

  def task(self, cfg):
    cfg = dict(cfg)
    scales = cfg.pop("param_scales", None)
    return reparam.wrap(self._task(**cfg), {"param_scales": scales})

  def batches(self, split):
    return _sampler(self.dataset, split, self.batch_size, self.resolution)
