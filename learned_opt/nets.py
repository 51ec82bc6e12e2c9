"""The small networks of learned rules: a per-parameter MLP read from a feature list, an LSTM.

`per_param_mlp` never stacks the features into a `[*shape, num_features]` array: its first
layer is the sum over features of `feature * w[i]`, an elementwise expression that XLA
fuses, and a scalar (per-tensor or global) feature simply adds `value * w[i]` to the bias.
Narrow MLPs stay elementwise throughout (nothing of size `[*shape, hidden]` is needed);
wider ones materialize the hidden activations.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp

Layers = list[dict[str, jax.Array]]
UNROLL_WIDTH = 4


def init_mlp(key: jax.Array, sizes: Sequence[int]) -> Layers:
  """Layers `{"w": [n_in, n_out], "b": [n_out]}` with LeCun-normal weights, zero biases."""
  keys = jax.random.split(key, len(sizes) - 1)
  return [
    {"w": jax.random.normal(k, (n_in, n_out)) / jnp.sqrt(n_in), "b": jnp.zeros((n_out,))}
    for k, n_in, n_out in zip(keys, sizes[:-1], sizes[1:], strict=True)
  ]


def per_param_mlp(
  layers: Layers, values: Sequence[jax.Array], shape: tuple[int, ...]
) -> list[jax.Array]:
  """A ReLU MLP applied to every parameter of a tensor of `shape`; one array per output.

  values: the features in the order of `layers[0]["w"]`'s rows, each of `shape` or a scalar.
  Narrow MLPs (every width <= `UNROLL_WIDTH`) are written out unit by unit as elementwise
  sums, which XLA fuses into one pass over the tensor; wider ones use matrix products on
  `[*shape, width]` activations.
  """
  if max(layer["w"].shape[1] for layer in layers) <= UNROLL_WIDTH:
    xs = list(values)
    for n, layer in enumerate(layers):
      w, b = layer["w"], layer["b"]
      xs = [b[j] + sum(x * w[i, j] for i, x in enumerate(xs)) for j in range(w.shape[1])]
      if n < len(layers) - 1:
        xs = [jax.nn.relu(x) for x in xs]
    return [jnp.broadcast_to(x, shape) for x in xs]
  first = layers[0]
  x = first["b"] + sum(v[..., None] * first["w"][i] for i, v in enumerate(values))
  x = jnp.broadcast_to(x, (*shape, x.shape[-1]))
  for layer in layers[1:]:
    x = jax.nn.relu(x) @ layer["w"] + layer["b"]
  return [x[..., j] for j in range(x.shape[-1])]


def init_lstm(key: jax.Array, n_in: int, hidden: int) -> dict[str, jax.Array]:
  """An LSTM cell's weights; the forget-gate bias starts at 1."""
  k_x, k_h = jax.random.split(key)
  bias = jnp.zeros((4 * hidden,)).at[hidden : 2 * hidden].set(1.0)
  return {
    "wx": jax.random.normal(k_x, (n_in, 4 * hidden)) / jnp.sqrt(max(n_in, 1)),
    "wh": jax.random.normal(k_h, (hidden, 4 * hidden)) / jnp.sqrt(hidden),
    "b": bias,
  }


def lstm_step(
  cell: dict[str, jax.Array], carry: tuple[jax.Array, jax.Array], x: jax.Array
) -> tuple[jax.Array, jax.Array]:
  """One LSTM step (input, forget, cell, output gates); returns the new (h, c)."""
  h, c = carry
  i, f, g, o = jnp.split(x @ cell["wx"] + h @ cell["wh"] + cell["b"], 4, axis=-1)
  c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
  return jax.nn.sigmoid(o) * jnp.tanh(c), c
