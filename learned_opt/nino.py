"""NiNo: a message-passing network over the neural graph that nowcasts parameters.

Knyazev et al., "Accelerating Training with Neuron Interaction and Nowcasting Networks"
(ICLR 2025, arXiv:2409.04434). Given `context` snapshots of a network's parameters taken
`s` steps apart, `W_1, ..., W_c` (oldest first), the nowcaster predicts the parameters
`k * s` steps after the newest, `W_c + delta`, where `k` (in snapshot spacings) is an input.

Inputs, per parameter edge of the neural graph (`learned_opt.neural_graph`), normalized per
tensor by `sigma = rms(W_c - W_1) + eps` (so every tensor's recent motion has scale 1):
  `(W_c - W_i) / sigma` for i < c;  `W_c / (rms(W_c) + eps)`;  `k (W_c - W_1) / ((c - 1) sigma)`
  (the linear extrapolation);  `log k`.
Structural edges (attention head membership, query-key pairs) get zeros there. Edge and node
embeddings add the static features: edge type, convolution offset, depth; node type, depth,
a sinusoidal code of the index of input/output neurons (hidden neurons have none).

Each of `layers` message-passing layers (edge-conditioned, both directions):
  m_e = MLP_e([e, h_sender, h_receiver]);  e <- e + m_e
  h_v <- h_v + MLP_v([h_v, mean_{e into v} m_e, mean_{e out of v} m_e])
and the output is `delta = sigma * MLP_out(e)` per parameter edge (its last layer starts at
zero: an untrained nowcaster predicts no change). Trained with the L1 loss on the normalized
change, `|MLP_out(e) - (W_target - W_c) / sigma|` (`loss`).

`Nino` is a `LearnedOptimizer` (architecture "nino"): `opt(theta)` is
`jump_every(optax.adam(base_learning_rate), predictor, every=every, context=context)`, so a
NiNo checkpoint loads with `learned_opt.load` like every other learned optimizer.

Any model is accepted: the tensors the neural graph leaves out (`neural_graph.infer`: a layer
it cannot place) keep the base optimizer's values at a jump, and the first trace says which
tensors are nowcast (absl log; a warning when some are left out, and a `UserWarning` when
none can be: the base optimizer alone then).
"""

from __future__ import annotations

import dataclasses
import functools
import warnings
from collections.abc import Sequence
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np
import optax
from absl import logging

from learned_opt import neural_graph
from learned_opt.base import LearnedOptimizer
from learned_opt.jumps import check_scales, jump_every

_EPS = 1e-8
_INDEX_FREQUENCIES = 1.0 / 10.0 ** np.arange(4)  # periods of 2 pi ... 2 pi * 1000 neurons
NODE_FEATURES = len(neural_graph.NODE_TYPES) + 1 + 2 * len(_INDEX_FREQUENCIES) + 1
EDGE_STATIC_FEATURES = len(neural_graph.EDGE_TYPES) + 2 + 1


def edge_value_features(context: int) -> int:
  """The width of the per-edge trajectory features for `context` snapshots."""
  return context + 2


def node_features(graph: neural_graph.NeuralGraph) -> np.ndarray:
  """[num_nodes, NODE_FEATURES]: type, depth, index code (+ flag) of input/output neurons."""
  indexed = graph.node_index >= 0
  phase = graph.node_index[:, None] * _INDEX_FREQUENCIES[None, :]
  code = np.where(indexed[:, None], np.concatenate([np.sin(phase), np.cos(phase)], 1), 0.0)
  return np.concatenate(
    [
      np.eye(len(neural_graph.NODE_TYPES))[graph.node_type],
      graph.node_depth[:, None],
      code,
      indexed[:, None],
    ],
    axis=1,
  ).astype(np.float32)


def edge_static_features(graph: neural_graph.NeuralGraph) -> np.ndarray:
  """[num_edges, EDGE_STATIC_FEATURES]: edge type, convolution offset, depth."""
  return np.concatenate(
    [
      np.eye(len(neural_graph.EDGE_TYPES))[graph.edge_type],
      graph.edge_offset,
      graph.edge_depth[:, None],
    ],
    axis=1,
  ).astype(np.float32)


def trajectory_features(
  graph: neural_graph.NeuralGraph, window: Any, ahead: jax.Array
) -> tuple[jax.Array, jax.Array, jax.Array]:
  """Per-edge trajectory features [num_edges, context + 2], the per-edge scale sigma and the
  newest snapshot's edge values (both [num_param_edges]) of a window (leaves
  [context, *shape], oldest first)."""
  values = graph.edge_values(window)  # [c, P]
  c = values.shape[0]
  sizes = np.asarray(graph.leaf_sizes)
  leaf_of = np.repeat(np.arange(len(sizes)), sizes)

  def per_leaf_rms(x):
    return jnp.sqrt(jax.ops.segment_sum(x * x, leaf_of, len(sizes)) / sizes)[leaf_of]

  last, first = values[-1], values[0]
  sigma = per_leaf_rms(last - first) + _EPS
  ahead = jnp.asarray(ahead, values.dtype)
  feats = [
    ((last[None] - values[:-1]) / sigma).T,
    (last / (per_leaf_rms(last) + _EPS))[:, None],
    (ahead * (last - first) / (max(c - 1, 1) * sigma))[:, None],
    jnp.broadcast_to(jnp.log(ahead), last.shape)[:, None],
  ]
  feats = jnp.concatenate(feats, axis=1)
  structural = jnp.zeros((graph.num_edges - graph.num_param_edges, feats.shape[1]), feats.dtype)
  return jnp.concatenate([feats, structural]), sigma, last


def _dense_init(key, n_in, n_out, scale=1.0):
  return {
    "w": scale * jax.random.normal(key, (n_in, n_out)) / np.sqrt(n_in),
    "b": jnp.zeros((n_out,)),
  }


def _mlp_init(key, n_in, hidden, n_out, last_scale=1.0):
  k1, k2 = jax.random.split(key)
  return [_dense_init(k1, n_in, hidden), _dense_init(k2, hidden, n_out, last_scale)]


def _mlp(layers, x):
  for i, layer in enumerate(layers):
    x = x @ layer["w"] + layer["b"]
    if i < len(layers) - 1:
      x = jax.nn.silu(x)
  return x


def _edge_mlp(layers, e, h, senders, receivers):
  """`_mlp(layers, [e, h[senders], h[receivers]])`, with the first layer's node terms
  computed per node before gathering (E x 3H x H multiply-adds become E x H x H + N x 2H x H)."""
  w, b = layers[0]["w"], layers[0]["b"]
  w_e, w_s, w_r = jnp.split(w, 3)
  x = e @ w_e + (h @ w_s)[senders] + (h @ w_r)[receivers] + b
  return _mlp(layers[1:], jax.nn.silu(x))


def init_gnn(key: jax.Array, *, context: int, hidden: int, layers: int) -> dict[str, Any]:
  """The nowcaster's parameters; the output layer is zero (predicts no change)."""
  keys = jax.random.split(key, 3 + 2 * layers)
  h = hidden
  return {
    "node_in": _dense_init(keys[0], NODE_FEATURES, h),
    "edge_in": _dense_init(keys[1], edge_value_features(context) + EDGE_STATIC_FEATURES, h),
    "layers": [
      {
        "edge": _mlp_init(keys[3 + 2 * i], 3 * h, h, h, last_scale=0.5),
        "node": _mlp_init(keys[4 + 2 * i], 3 * h, h, h, last_scale=0.5),
      }
      for i in range(layers)
    ],
    "out": _mlp_init(keys[2], h, h, 1, last_scale=0.0),
  }


def normalized_change(
  theta: dict[str, Any], graph: neural_graph.NeuralGraph, window: Any, ahead: jax.Array
) -> tuple[jax.Array, jax.Array, jax.Array]:
  """The predicted change per parameter edge divided by sigma, sigma, and the newest
  snapshot's edge values (each [P])."""
  values, sigma, last = trajectory_features(graph, window, ahead)
  n = graph.num_nodes
  senders, receivers = graph.senders, graph.receivers
  in_degree = np.maximum(np.bincount(receivers, minlength=n), 1)[:, None].astype(np.float32)
  out_degree = np.maximum(np.bincount(senders, minlength=n), 1)[:, None].astype(np.float32)
  dtype = values.dtype
  h = _mlp([theta["node_in"]], jnp.asarray(node_features(graph), dtype))
  e = _mlp(
    [theta["edge_in"]],
    jnp.concatenate([values, jnp.asarray(edge_static_features(graph), dtype)], axis=1),
  )
  for layer in theta["layers"]:
    m = _edge_mlp(layer["edge"], e, h, senders, receivers)
    e = e + m
    incoming = jax.ops.segment_sum(m, receivers, n) / in_degree
    outgoing = jax.ops.segment_sum(m, senders, n) / out_degree
    h = h + _mlp(layer["node"], jnp.concatenate([h, incoming, outgoing], axis=1))
  out = _mlp(theta["out"], e[: graph.num_param_edges])[:, 0]
  return out, sigma, last


def predict(
  theta: dict[str, Any], graph: neural_graph.NeuralGraph, window: Any, ahead: jax.Array
) -> Any:
  """The parameters `ahead` snapshot spacings after the window's newest; the tensors the graph
  leaves out keep their newest values."""
  newest = jax.tree.map(lambda w: w[-1], window)
  if graph.num_param_edges == 0:
    return newest
  change, sigma, last = normalized_change(theta, graph, window, ahead)
  return graph.params((last + sigma * change).astype(last.dtype), rest=newest)


@functools.cache
def _log_once(level: str, message: str) -> None:
  """Logs `message` the first time it comes (a jitted step traces once per compilation)."""
  if level == "none":
    warnings.warn(message, UserWarning, stacklevel=2)
  else:
    getattr(logging, level)(message)


def announce(graph: neural_graph.NeuralGraph) -> None:
  """Says once which tensors are nowcast: absl info when all are, an absl warning when some
  are left to the base optimizer, a `UserWarning` when none can be."""
  line = neural_graph.summary(graph)
  if graph.num_param_edges == 0:
    _log_once("none", f"NiNo nowcasts no tensor, the base optimizer trains alone: {line}")
  elif graph.left_out:
    _log_once("warning", f"NiNo nowcasts part of the model, the base optimizer the rest: {line}")
  else:
    _log_once("info", f"NiNo nowcasts every tensor: {line}")


def loss(
  theta: dict[str, Any],
  graph: neural_graph.NeuralGraph,
  window: Any,
  ahead: jax.Array,
  target: Any,
) -> jax.Array:
  """The L1 loss of the normalized change: mean over parameter edges of
  `|predicted change - (target - newest) / sigma|`."""
  change, sigma, last = normalized_change(theta, graph, window, ahead)
  return jnp.mean(jnp.abs(change - (graph.edge_values(target) - last) / sigma))


@dataclasses.dataclass(frozen=True)
class Nino(LearnedOptimizer):
  """A NiNo nowcaster and how it is used: Adam at `base_learning_rate`, and every `every`
  steps a jump `ahead` snapshot spacings (of `every // context` steps) into the future.

  With `jump_scales` (e.g. `(1, 2, 4)`; 0 allows staying put), each jump is loss-guided
  (`jumps.guided`): it goes to the multiple of the predicted move of least loss on the
  current batch, so `update` needs `value_fn` (`update_args`).

  How the model's neural graph is built (`neural_graph.infer`): `num_heads` for a
  `tasks.language.TransformerLM`'s attention; `layer_order` (path prefixes in layer order)
  and `residual_blocks` (path prefixes of `x + f(x)` blocks) where names do not tell them.
  These are per-model options: pass them to `opt`, or to `learned_opt.load(path, ...)`.
  """

  architecture: ClassVar[str] = "nino"
  context: int = 5
  hidden: int = 32
  layers: int = 3
  every: int = 50
  ahead: float = 5.0
  base_learning_rate: float = 1e-3
  num_heads: int | None = None
  layer_order: tuple[str, ...] | None = None
  residual_blocks: tuple[str, ...] | None = None
  jump_scales: tuple[float, ...] | None = None

  def __post_init__(self):
    if self.context < 2 or self.hidden < 1 or self.layers < 0:
      raise ValueError(
        f"nino needs context >= 2, hidden >= 1, layers >= 0; got {self.context}, "
        f"{self.hidden}, {self.layers}."
      )
    if self.every % self.context:
      raise ValueError(f"every ({self.every}) must be a multiple of context ({self.context}).")
    if not self.ahead > 0:
      raise ValueError(f"ahead must be positive, got {self.ahead}.")
    check_scales(self.jump_scales, "jump_scales")
    for name in ("layer_order", "residual_blocks", "jump_scales"):  # JSON records give lists
      value = getattr(self, name)
      if value is not None:
        object.__setattr__(self, name, tuple(value))

  @property
  def update_args(self) -> tuple[str, ...]:
    return ("value_fn",) if self.jump_scales else ()

  def init(self, key):
    return init_gnn(key, context=self.context, hidden=self.hidden, layers=self.layers)

  def graph(self, params: Any, **options: Any) -> neural_graph.NeuralGraph:
    """The neural graph of `params` (arrays or shape structs) under this nowcaster's graph
    options, each overridden by a non-None keyword (`num_heads`, `layer_order`,
    `residual_blocks`)."""
    names = ("num_heads", "layer_order", "residual_blocks")
    if set(options) - set(names):
      raise TypeError(f"unknown graph options {sorted(set(options) - set(names))}; known: {names}.")
    chosen = {n: getattr(self, n) if options.get(n) is None else options[n] for n in names}
    return neural_graph.infer(params, **chosen)

  def predictor(self, theta, ahead: float | None = None, **graph_options: Any):
    """`window -> params`: the neural graph is built from the window's structure (at trace
    time; `announce` says which tensors it covers), the others keep their newest values."""
    ahead = self.ahead if ahead is None else ahead

    def run(window):
      graph = self.graph(jax.tree.map(lambda w: w[0], window), **graph_options)
      announce(graph)
      return predict(theta, graph, window, ahead)

    return run

  def nowcast(
    self, theta, snapshots: Sequence[Any], ahead: float | None = None, **graph_options: Any
  ) -> Any:
    """The parameters `ahead` spacings after the newest of `snapshots`: `context` parameter
    trees, oldest first, equally spaced. Tensors outside the neural graph keep their newest
    values. `graph_options` as in `graph`."""
    if len(snapshots) != self.context:
      raise ValueError(f"nowcast reads {self.context} snapshots (context); got {len(snapshots)}.")
    window = jax.tree.map(lambda *xs: jnp.stack(xs), *snapshots)
    return self.predictor(theta, ahead, **graph_options)(window)

  def opt(
    self,
    theta,
    *,
    num_steps: int | None = None,
    base: optax.GradientTransformation | None = None,
    every: int | None = None,
    ahead: float | None = None,
    **graph_options: Any,
  ) -> optax.GradientTransformationExtraArgs:
    """`jump_every(base, predictor, every, context)`: `base` (default Adam at
    `base_learning_rate`) with a jump `ahead` spacings ahead every `every` steps; the
    keyword arguments override the config's (`num_steps` is ignored: a nowcaster has no
    horizon feature; `graph_options` as in `graph`)."""
    del num_steps
    base = optax.adam(self.base_learning_rate) if base is None else base
    return jump_every(
      base,
      self.predictor(theta, ahead, **graph_options),
      every=self.every if every is None else every,
      context=self.context,
      scales=self.jump_scales,
    )
