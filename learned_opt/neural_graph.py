"""Neural graphs: a network's parameters as the edges of a graph whose nodes are its neurons.

NiNo (Knyazev et al., "Accelerating Training with Neuron Interaction and Nowcasting
Networks", ICLR 2025, arXiv:2409.04434) predicts future parameters with a graph neural network
over the network's *neural graph* (Kofinas et al. 2024; Lim et al. 2024): one node per neuron,
one edge per weight. Relabelling the hidden neurons of a layer is then a relabelling of nodes,
and a message-passing network, which never reads a node's index, is equivariant to it: its
prediction for the permuted network is the permuted prediction.

Here every parameter *element* is exactly one edge (a multigraph):
- dense `w[i, j]`: neuron i of the layer below -> neuron j; its bias `b[j]`: the layer's bias
  node -> j (Lim et al.'s bias nodes);
- convolution `w[a, b, i, j]`: channel i -> channel j, one parallel edge per kernel offset,
  which the edge's `offset` feature (relative row, column) tells apart;
- transformer (`tasks.language.TransformerLM`): the residual stream is one set of nodes shared
  by all blocks (permuting it consistently everywhere keeps the function); token and position
  embeddings are edges from token / position input nodes; LayerNorm scales and biases are edges
  from a per-norm node; `qkv` columns are query, key and value neurons. Attention is handled
  so that neurons permute only within a head: each head has a head node joined to its query,
  key and value neurons, and query j and key j of a head are joined (their product is summed
  within the head), by *structural* edges that carry no parameter. A graph automorphism must
  then move a head's neurons together, to one head, and query/key pairs together.
Input and output neurons (pixels, channels of the image, tokens, classes) are not
interchangeable and carry their index as a positional feature; hidden neurons carry none.

The parameter edges come first, leaf by leaf in `jax.tree` order, each leaf's elements in
row-major order, so `graph.edge_values(params)` is the concatenation of the raveled leaves and
`graph.params(values)` splits it back: the round trip is exact.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

NODE_TYPES = (
  "input", "position", "hidden", "residual", "output", "bias", "norm", "head",
  "query", "key", "value",
)  # fmt: skip
EDGE_TYPES = (
  "dense", "conv", "bias", "embed", "position", "query", "key", "value", "attn_out",
  "norm_scale", "norm_bias", "qk_pair", "head_member",
)  # fmt: skip
_KERNEL_NAMES = ("w", "kernel")
_BIAS_NAMES = ("b", "bias")


class NeuralGraphError(ValueError):
  """Parameters whose network this module cannot turn into a neural graph."""


@dataclasses.dataclass(frozen=True, eq=False)
class NeuralGraph:
  """The neural graph of one parameter structure (numpy arrays: static under `jit`).

  Nodes: `node_type` (index into NODE_TYPES), `node_depth` (layer position in [0, 1]),
  `node_index` (the index of an input/output neuron, -1 for interchangeable ones). Edges:
  `senders`, `receivers`, `edge_type` (index into EDGE_TYPES), `edge_offset` ([E, 2]: a
  convolution weight's relative kernel row and column in [-1, 1], else 0), `edge_depth`.
  The first `num_param_edges` edges are the parameters, in the order `edge_values` gives.
  """

  node_type: np.ndarray
  node_depth: np.ndarray
  node_index: np.ndarray
  senders: np.ndarray
  receivers: np.ndarray
  edge_type: np.ndarray
  edge_offset: np.ndarray
  edge_depth: np.ndarray
  num_param_edges: int
  treedef: Any
  shapes: tuple[tuple[int, ...], ...]

  @property
  def num_nodes(self) -> int:
    return len(self.node_type)

  @property
  def num_edges(self) -> int:
    return len(self.senders)

  @property
  def leaf_sizes(self) -> tuple[int, ...]:
    return tuple(int(np.prod(s, dtype=np.int64)) for s in self.shapes)

  def edge_values(self, params: Any) -> jax.Array:
    """The parameter edges' values, [num_param_edges] (leading axes of the leaves are kept:
    leaves of shape [*batch, *shape] give [*batch, num_param_edges])."""
    leaves = self._leaves(params)
    batch = leaves[0].shape[: leaves[0].ndim - len(self.shapes[0])]
    return jnp.concatenate([x.reshape(*batch, -1) for x in leaves], axis=-1)

  def params(self, values: jax.Array) -> Any:
    """The parameters whose `edge_values` are `values` ([*batch, num_param_edges])."""
    if values.shape[-1] != self.num_param_edges:
      raise NeuralGraphError(
        f"expected {self.num_param_edges} edge values, got an array of shape {values.shape}."
      )
    batch = values.shape[:-1]
    pieces = jnp.split(values, np.cumsum(self.leaf_sizes)[:-1], axis=-1)
    return jax.tree.unflatten(
      self.treedef, [p.reshape(*batch, *s) for p, s in zip(pieces, self.shapes, strict=True)]
    )

  def _leaves(self, params: Any) -> list[jax.Array]:
    leaves, treedef = jax.tree.flatten(params)
    if treedef != self.treedef:
      raise NeuralGraphError(
        f"parameters of structure {treedef} do not match this graph's {self.treedef}."
      )
    return leaves


def path_names(path) -> tuple[str, ...]:
  """A `jax.tree_util` key path as names (`('dense_0', 'w')`); flax nnx's `.value` dropped."""
  names = tuple(str(getattr(k, "key", getattr(k, "idx", getattr(k, "name", k)))) for k in path)
  return names[:-1] if names and names[-1] == "value" else names


def _natural_key(names: tuple[str, ...]):
  return [int(t) if t.isdigit() else t for n in names for t in re.split(r"(\d+)", n)]


class _Builder:
  """Collects nodes and edges; assembles the parameter edges in `jax.tree` leaf order."""

  def __init__(self):
    self.node_type, self.node_depth, self.node_index = [], [], []
    self.param_edges: dict[tuple[str, ...], tuple] = {}
    self.structural: list[tuple] = []

  def nodes(self, kind: str, count: int, depth: float, indexed: bool = False) -> np.ndarray:
    start = len(self.node_type)
    self.node_type += [NODE_TYPES.index(kind)] * count
    self.node_depth += [depth] * count
    self.node_index += list(range(count)) if indexed else [-1] * count
    return np.arange(start, start + count)

  def leaf(self, names, senders, receivers, kind, depth, offset=None):
    """Edges of one parameter leaf: `senders`, `receivers` and `kind` (an edge type name, or
    an array of names) broadcast to the leaf's shape."""
    kind = np.vectorize(EDGE_TYPES.index)(kind)
    senders, receivers, kind = np.broadcast_arrays(senders, receivers, kind)
    if offset is not None:
      senders, receivers, kind = (
        np.broadcast_to(x, offset.shape[:-1]) for x in (senders, receivers, kind)
      )
    offset = np.zeros((*senders.shape, 2)) if offset is None else offset
    self.param_edges[tuple(names)] = (
      senders.ravel(),
      receivers.ravel(),
      kind.ravel(),
      depth,
      offset.reshape(-1, 2),
    )

  def link(self, senders, receivers, kind, depth):
    """Structural edges, which carry no parameter."""
    senders, receivers = np.broadcast_arrays(senders, receivers)
    self.structural.append(
      (
        senders.ravel(),
        receivers.ravel(),
        np.full(senders.size, EDGE_TYPES.index(kind)),
        depth,
        None,
      )
    )

  def build(self, params: Any) -> NeuralGraph:
    flat, treedef = jax.tree_util.tree_flatten_with_path(params)
    edges, shapes = [], []
    for path, leaf in flat:
      names = path_names(path)
      if names not in self.param_edges:
        raise NeuralGraphError(f"the neural graph does not cover parameter {'/'.join(names)}.")
      s, r, kind, depth, offset = self.param_edges[names]
      if s.size != np.size(leaf):
        raise NeuralGraphError(f"parameter {'/'.join(names)} has an unexpected shape.")
      edges.append((s, r, kind, depth, offset))
      shapes.append(tuple(np.shape(leaf)))
    num_param_edges = sum(len(e[0]) for e in edges)
    edges += self.structural

    def cat(i):
      return np.concatenate([np.broadcast_to(e[i], e[0].shape) for e in edges])

    return NeuralGraph(
      node_type=np.asarray(self.node_type, np.int32),
      node_depth=np.asarray(self.node_depth, np.float32),
      node_index=np.asarray(self.node_index, np.int32),
      senders=cat(0).astype(np.int32),
      receivers=cat(1).astype(np.int32),
      edge_type=cat(2).astype(np.int32),
      edge_offset=np.concatenate(
        [e[4] if e[4] is not None else np.zeros((len(e[0]), 2)) for e in edges]
      ).astype(np.float32),
      edge_depth=cat(3).astype(np.float32),
      num_param_edges=num_param_edges,
      treedef=treedef,
      shapes=tuple(shapes),
    )


def _layers(params: Any) -> list[tuple[tuple[str, ...], Any, tuple[str, ...] | None, Any]]:
  """(kernel path, kernel, bias path or None, bias) of each layer, in natural path order."""
  by_parent: dict[tuple[str, ...], dict[str, tuple]] = {}
  for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
    names = path_names(path)
    by_parent.setdefault(names[:-1], {})[names[-1] if names else ""] = (names, leaf)
  layers = []
  for parent in sorted(by_parent, key=_natural_key):
    leaves = by_parent[parent]
    kernel = next((leaves[n] for n in _KERNEL_NAMES if n in leaves), None)
    bias = next((leaves[n] for n in _BIAS_NAMES if n in leaves), None)
    known = {n for n in (*_KERNEL_NAMES, *_BIAS_NAMES) if n in leaves}
    if kernel is None or np.ndim(kernel[1]) not in (2, 4) or set(leaves) - known:
      (names, leaf), *_ = leaves.values()
      raise NeuralGraphError(
        f"cannot build a neural graph: parameter {'/'.join(names)} of shape {np.shape(leaf)} "
        "is not part of a dense (2-D `w`/`kernel`) or convolution (4-D, HWIO) layer with an "
        "optional 1-D `b`/`bias`. Supported: MLPs and CNNs (`sequential`) and "
        "tasks.language.TransformerLM (`transformer`)."
      )
    layers.append((*kernel, *(bias or (None, None))))
  return layers


def input_kernels(params: Any) -> set[tuple[str, ...]]:
  """The paths of the tensors that read the network's input, by this module's conventions.

  The token and position embeddings (`embed`, `pos`: `tasks.language`'s LMs, transformer or
  LSTM) when there are any; otherwise the first layer's kernel of a chain of dense /
  convolution layers in path order (`sequential`: `tasks` MLPs and CNNs, nnx `Linear`
  stacks); otherwise none (a structure this module does not recognize).
  """
  names = [path_names(p) for p, _ in jax.tree_util.tree_flatten_with_path(params)[0]]
  embeddings = {n for n in names if n and n[-1] in ("embed", "pos")}
  if embeddings:
    return embeddings
  try:
    layers = _layers(params)
  except NeuralGraphError:
    return set()
  return {layers[0][0]} if layers else set()


def sequential(params: Any) -> NeuralGraph:
  """The neural graph of a chain of convolutions (HWIO) and dense layers, in path order.

  Fits `tasks` MLPs (`dense_<i>`, `out`), CNNs (`conv_<i>` then `out`, pooling between), and
  flax nnx stacks of `Linear` layers (`kernel`, `bias`) whose paths sort in layer order.
  """
  layers = _layers(params)
  if not layers:
    raise NeuralGraphError("cannot build a neural graph of parameters with no layers.")
  b = _Builder()
  n = len(layers)
  first = layers[0][1]
  below = b.nodes("input", np.shape(first)[-2], 0.0, indexed=True)
  for i, (w_names, w, b_names, bias) in enumerate(layers):
    n_in, n_out = np.shape(w)[-2:]
    if n_in != len(below):
      raise NeuralGraphError(
        f"layer {'/'.join(w_names)} takes {n_in} inputs but the layer below has {len(below)} "
        "neurons: the layers do not form a chain in path order."
      )
    depth = (i + 1) / n
    last = i == n - 1
    above = b.nodes("output" if last else "hidden", n_out, depth, indexed=last)
    if np.ndim(w) == 4:
      kh, kw = np.shape(w)[:2]
      rows = np.broadcast_to(np.linspace(-1, 1, kh)[:, None] if kh > 1 else 0.0, (kh, kw))
      cols = np.broadcast_to(np.linspace(-1, 1, kw)[None, :] if kw > 1 else 0.0, (kh, kw))
      offset = np.broadcast_to(
        np.stack([rows, cols], -1)[:, :, None, None], (kh, kw, n_in, n_out, 2)
      )
      b.leaf(w_names, below[:, None], above[None, :], "conv", depth, np.asarray(offset))
    else:
      b.leaf(w_names, below[:, None], above[None, :], "dense", depth)
    if b_names is not None:
      if np.shape(bias) != (n_out,):
        raise NeuralGraphError(f"bias {'/'.join(b_names)} should have shape ({n_out},).")
      b.leaf(b_names, b.nodes("bias", 1, depth), above, "bias", depth)
    below = above
  return b.build(params)


def transformer(params: Any, num_heads: int) -> NeuralGraph:
  """The neural graph of a `tasks.language.TransformerLM`'s parameters with `num_heads` heads."""
  try:
    vocab, width = np.shape(params["embed"])
    seq_len = np.shape(params["pos"])[0]
    blocks = sorted((k for k in params if k.startswith("block_")), key=lambda k: int(k[6:]))
  except (KeyError, TypeError, ValueError):
    raise NeuralGraphError(
      "transformer parameters need `embed` [vocab, width], `pos` [seq_len, width], "
      "`block_<i>`, `ln_f` and `out` (tasks.language.TransformerLM)."
    ) from None
  if width % num_heads:
    raise NeuralGraphError(f"width {width} is not divisible by num_heads={num_heads}.")
  head_dim = width // num_heads
  depth_of = lambda i: (i + 1) / (len(blocks) + 1)
  b = _Builder()
  tokens = b.nodes("input", vocab, 0.0, indexed=True)
  positions = b.nodes("position", seq_len, 0.0, indexed=True)
  res = b.nodes("residual", width, 0.5)
  b.leaf(("embed",), tokens[:, None], res[None, :], "embed", 0.0)
  b.leaf(("pos",), positions[:, None], res[None, :], "position", 0.0)

  def norm(names, depth):
    node = b.nodes("norm", 1, depth)
    b.leaf((*names, "scale"), node, res, "norm_scale", depth)
    b.leaf((*names, "bias"), node, res, "norm_bias", depth)

  def dense(names, senders, receivers, kind, depth):
    b.leaf((*names, "w"), senders[:, None], receivers[None, :], kind, depth)
    b.leaf((*names, "b"), b.nodes("bias", 1, depth), receivers, "bias", depth)

  for i, block in enumerate(blocks):
    d = depth_of(i)
    norm((block, "ln_1"), d)
    q, k, v = (b.nodes(kind, width, d) for kind in ("query", "key", "value"))
    qkv = np.concatenate([q, k, v])
    kinds = np.repeat(["query", "key", "value"], width)  # qkv's columns: q, then k, then v
    b.leaf((block, "qkv", "w"), res[:, None], qkv[None, :], kinds[None, :], d)
    b.leaf((block, "qkv", "b"), b.nodes("bias", 1, d), qkv, "bias", d)
    heads = b.nodes("head", num_heads, d)
    member = np.repeat(heads, head_dim)
    for group in (q, k, v):
      b.link(member, group, "head_member", d)
    b.link(q, k, "qk_pair", d)
    dense((block, "proj"), v, res, "attn_out", d)
    norm((block, "ln_2"), d)
    mlp = b.nodes("hidden", np.shape(params[block]["mlp_in"]["w"])[1], d)
    dense((block, "mlp_in"), res, mlp, "dense", d)
    dense((block, "mlp_out"), mlp, res, "dense", d)
  norm(("ln_f",), 1.0)
  dense(("out",), res, b.nodes("output", vocab, 1.0, indexed=True), "dense", 1.0)
  return b.build(params)


def infer(params: Any, num_heads: int | None = None) -> NeuralGraph:
  """The neural graph of `params`: a transformer when it has `qkv` layers (then `num_heads`
  is required), otherwise a chain of dense / convolution layers (`sequential`)."""
  names = [path_names(p) for p, _ in jax.tree_util.tree_flatten_with_path(params)[0]]
  if any("qkv" in n for n in names):
    if num_heads is None:
      raise NeuralGraphError("these are transformer parameters: pass num_heads.")
    return transformer(params, num_heads)
  return sequential(params)
