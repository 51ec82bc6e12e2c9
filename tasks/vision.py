"""Image tasks beyond MLP classifiers: a small CNN classifier and an MLP autoencoder (plain jnp).

CNN: `len(channels)` 3x3 convolutions of stride 2 (SAME padding, NHWC) with an activation,
global average pooling, then a dense layer to the classes. Loss: mean softmax cross-entropy;
normalized by log(num_classes) and clipped at 1.5, like the MLP classifiers.

Autoencoder: encoder widths `hidden`, then the mirrored decoder back to the flattened image
with a sigmoid output. Loss: the mean squared error per pixel; `normalize` divides it by the
loss of the best constant image (the per-pixel training mean), so 1 means "learned the mean
image" and values near 0 a good reconstruction; clipped at 1.5.

Both expose their outputs (logits; reconstructions) and the loss of those outputs
(`outputs`, `loss_of_outputs`: loss = loss_of_outputs(outputs)) for the Gauss-Newton
baselines' extra args; the autoencoder, an MLP, also its dense layers and targets
(`dense_outputs`, `targets`: the extra args `dense_fn` / `targets`).
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax

from tasks import datasets
from tasks.base import Task
from tasks.mlp_classifier import (
  ACTIVATIONS,
  _check,
  _sampler,
  classifier_normalize,
  dense_init,
)


@dataclasses.dataclass(frozen=True)
class CNNClassifier(Task):
  """Stride-2 3x3 convolutions of `channels`, global average pooling, a dense classifier."""

  dataset: str = "digits"
  channels: tuple[int, ...] = (8, 16)
  activation: str = "relu"
  batch_size: int = 32
  init_scale: float = 1.0
  resolution: int | None = None
  name: str = "digits_cnn"

  def __post_init__(self):
    _check(self.dataset, self.activation)

  def init(self, key):
    c_in = datasets.image_shape(self.dataset, self.resolution)[-1]
    keys = jax.random.split(key, len(self.channels) + 1)
    params = {}
    for i, c_out in enumerate(self.channels):
      fan_in = 9 * c_in
      w = self.init_scale * jax.random.normal(keys[i], (3, 3, c_in, c_out)) / jnp.sqrt(fan_in)
      params[f"conv_{i}"] = {"w": w, "b": jnp.zeros((c_out,))}
      c_in = c_out
    params["out"] = dense_init(keys[-1], c_in, datasets.num_classes(self.dataset), self.init_scale)
    return params

  def logits(self, params, x):
    act = ACTIVATIONS[self.activation]
    for i in range(len(self.channels)):
      layer = params[f"conv_{i}"]
      x = jax.lax.conv_general_dilated(
        x, layer["w"], (2, 2), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
      )
      x = act(x + layer["b"])
    x = jnp.mean(x, axis=(1, 2))
    return x @ params["out"]["w"] + params["out"]["b"]

  def outputs(self, params, batch):
    """The model's outputs on `batch`: the logits [batch, classes]."""
    return self.logits(params, batch["x"])

  def loss_of_outputs(self, outputs, batch):
    """The loss as a function of the logits: mean softmax cross-entropy."""
    return optax.softmax_cross_entropy_with_integer_labels(outputs, batch["y"]).mean()

  def loss(self, params, key, batch):
    del key
    return self.loss_of_outputs(self.outputs(params, batch), batch)

  def accuracy(self, params, batch):
    return jnp.mean(jnp.argmax(self.logits(params, batch["x"]), -1) == batch["y"])

  def batches(self, split):
    return _sampler(self.dataset, split, self.batch_size, self.resolution, flat=False)

  def normalize(self, loss):
    return classifier_normalize(loss, datasets.num_classes(self.dataset))


@functools.cache
def _constant_image_mse(dataset: str, resolution: int | None) -> float:
  x, _ = datasets.load(dataset, "train", resolution)
  return float(np.mean(np.var(x, axis=0)))


@dataclasses.dataclass(frozen=True)
class MLPAutoencoder(Task):
  """Flattened images through `hidden` widths and back; sigmoid output, per-pixel MSE."""

  dataset: str = "digits"
  hidden: tuple[int, ...] = (32,)
  activation: str = "relu"
  batch_size: int = 64
  init_scale: float = 1.0
  resolution: int | None = None
  name: str = "digits_autoencoder"

  def __post_init__(self):
    _check(self.dataset, self.activation)

  def _sizes(self) -> tuple[int, ...]:
    n = int(np.prod(datasets.image_shape(self.dataset, self.resolution)))
    return (n, *self.hidden, *self.hidden[-2::-1], n)

  def init(self, key):
    sizes = self._sizes()
    keys = jax.random.split(key, len(sizes) - 1)
    return {
      f"dense_{i}": dense_init(k, n_in, n_out, self.init_scale)
      for i, (k, n_in, n_out) in enumerate(zip(keys, sizes[:-1], sizes[1:], strict=True))
    }

  def reconstruct(self, params, x):
    return self.dense_outputs(params, {"x": x})[0]

  def dense_outputs(self, params, batch, taps=None):
    """(reconstructions, inputs): as `MLPClassifier.dense_outputs`, for the extra arg
    `dense_fn`: `taps[name]` added to dense layer `name`'s pre-activation, every dense
    layer's input `x`."""
    act = ACTIVATIONS[self.activation]
    num = len(self._sizes()) - 1
    x, inputs = batch["x"], {}
    for i in range(num):
      name = f"dense_{i}"
      inputs[name] = x
      z = x @ params[name]["w"] + params[name]["b"]
      z = z if taps is None else z + taps[name]
      x = act(z) if i < num - 1 else jax.nn.sigmoid(z)
    return x, inputs

  def outputs(self, params, batch):
    """The model's outputs on `batch`: the reconstructions [batch, pixels]."""
    return self.reconstruct(params, batch["x"])

  def loss_of_outputs(self, outputs, batch):
    """The loss as a function of the reconstructions: mean squared error per pixel."""
    return jnp.mean((outputs - batch["x"]) ** 2)

  def targets(self, batch):
    """What the loss compares the outputs with: the images [batch, pixels]."""
    return batch["x"]

  def loss(self, params, key, batch):
    del key
    return self.loss_of_outputs(self.outputs(params, batch), batch)

  def batches(self, split):
    return _sampler(self.dataset, split, self.batch_size, self.resolution)

  def normalize(self, loss):
    """MSE over that of the per-pixel mean image (training split), clipped at 1.5."""
    return jnp.minimum(loss / _constant_image_mse(self.dataset, self.resolution), 1.5)
