"""Neural graphs: a network's parameters as the edges of a graph whose nodes are its neurons.

NiNo (Knyazev et al., "Accelerating Training with Neuron Interaction and Nowcasting
Networks", ICLR 2025, arXiv:2409.04434) predicts future parameters with a graph neural network
over the network's *neural graph* (Kofinas et al. 2024; Lim et al. 2024): one node per neuron,
one edge per weight. Relabelling the hidden neurons of a layer is then a relabelling of nodes,
and a message-passing network, which never reads a node's index, is equivariant to it: its
prediction for the permuted network is the permuted prediction.

Here every parameter *element* is exactly one edge (a multigraph):
- dense `w[i, j]` (`(in, out)`, `baselines.axes`): neuron i of the layer below -> neuron j;
  its bias `b[j]`: the layer's bias node -> j (Lim et al.'s bias nodes). A 1-D kernel
  (`x @ w`, one output) has one output neuron, and its bias may be a scalar;
- convolution `w[a, b, i, j]` (HWIO): channel i -> channel j, one parallel edge per kernel
  offset, which the edge's `offset` feature (relative row, column) tells apart. A dense kernel
  whose fan-in is k times the width of the layer below (a convolution written as a matrix over
  image patches, or a dense layer over flattened feature maps) is read the same way, rows in
  `baselines.axes`' matrix view of HWIO, `(position, channel)` with the channel fastest:
  k parallel edges per channel pair, offset (position in [-1, 1], 0);
- norms (1-D `scale` / `bias`): edges from a per-norm node to the neurons they scale; other
  vectors and scalars the width of a layer (layer scales, a logistic regression's scalar bias)
  are bias-like: edges from their own bias node;
- embeddings (`(vocab, d)`): edges from token (or position) input nodes to the d neurons;
- residual blocks: the block's input neurons are also its output neurons (one set of nodes,
  the residual stream, shared by every block that writes into it, as in the transformer);
- recurrent cells (LSTM, GRU, plain RNN; gate-major columns `(gate, unit)`): the input
  kernel goes from the layer below, the recurrent kernel from the cell's hidden units, to
  *gate neurons*, one group per gate (node type "gate", the gate's index as its code); each
  gate neuron is joined to its hidden unit by a structural edge, so permuting hidden units
  must move their gate neurons with them, as it must in the network;
- transformer (`tasks.language.TransformerLM`, `transformer`): the residual stream is one set
  of nodes shared by all blocks; token and position embeddings are edges from token /
  position input nodes; LayerNorm scales and biases are edges from a per-norm node; `qkv`
  columns are query, key and value neurons. Attention is handled so that neurons permute only
  within a head: each head has a head node joined to its query, key and value neurons, and
  query j and key j of a head are joined (their product is summed within the head), by
  *structural* edges that carry no parameter. A graph automorphism must then move a head's
  neurons together, to one head, and query/key pairs together.
Input and output neurons (pixels, channels of the image, tokens, classes) are not
interchangeable and carry their index as a positional feature; hidden neurons carry none.

`infer` builds the graph of any parameter pytree (plain dicts of `w`/`b` or `kernel`/`bias`,
flax nnx `State`s) from its shapes and names alone (`layered`). It never fails on a model:
the tensors it cannot place (attention outside `TransformerLM`'s layout, a kernel whose
fan-in matches no layer below, a vector of no layer's width) are *left out*, each with its
reason (`NeuralGraph.left_out`, `summary`), for the caller to update otherwise. Layers are
taken in path order (natural sort: `layer_10` after `layer_9`), embeddings and input layers
(`in`, `stem`) first, final norms (`ln_f`) and heads (`out`, `head`, `lm_head`) last; a
`layer_order` of path prefixes states it where names do not. A module with a norm whose
first input width equals its last layer's output width is a residual block (pre-LN, or a
name with `res`); `residual_blocks` states them instead.

The parameter edges come first, covered leaf by covered leaf in `jax.tree` order, each leaf's
elements in row-major order, so `graph.edge_values(params)` is the concatenation of the
covered leaves, raveled, and `graph.params(values, rest)` splits it back (the leaves left out
taken from `rest`): the round trip is exact.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from baselines import axes

NODE_TYPES = (
  "input", "position", "hidden", "residual", "output", "bias", "norm", "head",
  "query", "key", "value", "gate",
)  # fmt: skip
EDGE_TYPES = (
  "dense", "conv", "bias", "embed", "position", "query", "key", "value", "attn_out",
  "norm_scale", "norm_bias", "qk_pair", "head_member", "recurrent", "gate_member", "vector",
)  # fmt: skip
_KERNEL_NAMES = ("w", "kernel")
_BIAS_NAMES = ("b", "bias")
_NORM_SCALES = ("scale", "gamma", "weight")
_NORM_BIASES = ("bias", "beta")
_NORM_MODULE = re.compile(r"norm|^ln|_ln|^bn|_bn", re.IGNORECASE)
_POSITION = re.compile(r"pos|^wpe$", re.IGNORECASE)
_CELL = re.compile(r"lstm|gru|rnn", re.IGNORECASE)
_RECURRENT_LEAF = re.compile(r"(^|_)(h|hh)$|^(wh|uh)$|recurrent", re.IGNORECASE)
_GATES = {"lstm": 4, "gru": 3, "rnn": 1}
_INPUT_LEAF = re.compile(r"(^|_)(i|x|ih)$|^(wx|wi)$", re.IGNORECASE)
_ATTENTION = re.compile(r"^(qkv|q|k|v|query|key|value|[qkvo]_proj|out_proj|c_attn)$|attn|attention")
_ATTENTION_OUT = re.compile(r"^(proj|o|c_proj|out_proj|o_proj|wo)$", re.IGNORECASE)
_FIRST = re.compile(r"^(emb\w*|tok\w*|wte|wpe|pos\w*|in|input|inp|stem)$", re.IGNORECASE)
_FINAL_NORM = re.compile(r"^(ln_f|norm_f|final_norm|ln_final|final_ln|norm_out)$", re.IGNORECASE)
_HEAD = re.compile(
  r"^(out|output|head|lm_head|classifier|logits|readout|fc_out|unembed)$", re.IGNORECASE
)
_RESIDUAL_NAME = re.compile(r"res", re.IGNORECASE)


class NeuralGraphError(ValueError):
  """Parameters that do not match a neural graph, or a layout `transformer` cannot read."""


@dataclasses.dataclass(frozen=True, eq=False)
class NeuralGraph:
  """The neural graph of one parameter structure (numpy arrays: static under `jit`).

  Nodes: `node_type` (index into NODE_TYPES), `node_depth` (layer position in [0, 1]),
  `node_index` (the index of an input/output neuron, the gate of a gate neuron, -1 for
  interchangeable ones). Edges: `senders`, `receivers`, `edge_type` (index into EDGE_TYPES),
  `edge_offset` ([E, 2]: a convolution weight's relative kernel row and column in [-1, 1],
  else 0), `edge_depth`. The first `num_param_edges` edges are the parameters of the covered
  leaves, in the order `edge_values` gives. `leaf_index` are the covered leaves' positions
  among all leaves (`jax.tree` order), `shapes` their shapes, `paths` their names;
  `left_out` the (path, reason) of every other leaf.
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
  leaf_index: tuple[int, ...]
  paths: tuple[str, ...]
  left_out: tuple[tuple[str, str], ...]

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
    if not self.leaf_index:
      return jnp.zeros((0,))
    covered = [leaves[i] for i in self.leaf_index]
    batch = covered[0].shape[: covered[0].ndim - len(self.shapes[0])]
    return jnp.concatenate([x.reshape(*batch, -1) for x in covered], axis=-1)

  def params(self, values: jax.Array, rest: Any = None) -> Any:
    """The parameters whose `edge_values` are `values` ([*batch, num_param_edges]); the leaves
    left out are those of `rest` (a tree like the parameters), needed when there are any."""
    if values.shape[-1] != self.num_param_edges:
      raise NeuralGraphError(
        f"expected {self.num_param_edges} edge values, got an array of shape {values.shape}."
      )
    if rest is None and self.left_out:
      raise NeuralGraphError(
        f"the graph leaves out {', '.join(p for p, _ in self.left_out)}: pass `rest`."
      )
    leaves = self._leaves(rest) if rest is not None else [None] * self.treedef.num_leaves
    batch = values.shape[:-1]
    pieces = jnp.split(values, np.cumsum(self.leaf_sizes)[:-1], axis=-1)
    for i, p, s in zip(self.leaf_index, pieces, self.shapes, strict=True):
      leaves[i] = p.reshape(*batch, *s)
    return jax.tree.unflatten(self.treedef, leaves)

  def _leaves(self, params: Any) -> list[jax.Array]:
    leaves, treedef = jax.tree.flatten(params)
    if treedef != self.treedef:
      raise NeuralGraphError(
        f"parameters of structure {treedef} do not match this graph's {self.treedef}."
      )
    return leaves


def summary(graph: NeuralGraph) -> str:
  """One line: the tensors the graph covers, and those it leaves out grouped by reason."""
  total = len(graph.paths) + len(graph.left_out)
  line = (
    f"{len(graph.paths)} of {total} parameter tensors in the neural graph "
    f"({sum(graph.leaf_sizes)} values): {', '.join(graph.paths) or 'none'}"
  )
  reasons: dict[str, list[str]] = {}
  for path, why in graph.left_out:
    reasons.setdefault(why, []).append(path)
  if reasons:
    line += "; left out: " + "; ".join(f"{', '.join(p)} ({why})" for why, p in reasons.items())
  return line


def path_names(path) -> tuple[str, ...]:
  """A `jax.tree_util` key path as names (`('dense_0', 'w')`); flax nnx's `.value` dropped."""
  names = tuple(str(getattr(k, "key", getattr(k, "idx", getattr(k, "name", k)))) for k in path)
  return names[:-1] if names and names[-1] == "value" else names


def _natural_key(names: Sequence[str]):
  return [
    (0, int(t), "") if t.isdigit() else (1, 0, t) for n in names for t in re.split(r"(\d+)", n)
  ]


class _Builder:
  """Collects nodes and edges; assembles the parameter edges in `jax.tree` leaf order.

  A leaf's senders, receivers and kinds are kept as given (broadcastable to its shape) and
  broadcast only by `build`, so placing the layers of a large model is cheap.
  """

  def __init__(self):
    self.node_type, self.node_depth, self.node_index = [], [], []
    self.param_edges: dict[tuple[str, ...], tuple] = {}
    self.structural: list[tuple] = []
    self.reasons: dict[tuple[str, ...], str] = {}

  def nodes(self, kind: str, count: int, depth: float, index: Any = None) -> np.ndarray:
    """`count` new nodes; `index`: True (0..count-1), an array of codes, or None (none)."""
    start = len(self.node_type)
    self.node_type += [NODE_TYPES.index(kind)] * count
    self.node_depth += [depth] * count
    if index is True:
      index = np.arange(count)
    self.node_index += [-1] * count if index is None else list(np.asarray(index).ravel())
    return np.arange(start, start + count)

  def retype(self, ids: np.ndarray, kind: str, indexed: bool) -> None:
    for n, i in enumerate(ids):
      self.node_type[i] = NODE_TYPES.index(kind)
      self.node_index[i] = n if indexed else -1

  def leaf(self, names, senders, receivers, kind, depth, offset=None):
    """Edges of one parameter leaf: `senders`, `receivers` and `kind` (an edge type name, or
    an array of names) broadcast to the leaf's shape; `offset` [*shape, 2] or None."""
    kind = np.vectorize(EDGE_TYPES.index)(kind)
    self.param_edges[tuple(names)] = (senders, receivers, kind, depth, offset)

  def link(self, senders, receivers, kind, depth):
    """Structural edges, which carry no parameter."""
    senders, receivers = np.broadcast_arrays(senders, receivers)
    self.structural.append(
      (senders.ravel(), receivers.ravel(), np.full(senders.size, EDGE_TYPES.index(kind)), depth)
    )

  def build(self, params: Any) -> NeuralGraph:
    flat, treedef = jax.tree_util.tree_flatten_with_path(params)
    edges, shapes, index, paths, left_out = [], [], [], [], []
    for i, (path, leaf) in enumerate(flat):
      names = path_names(path)
      shape = tuple(np.shape(leaf))
      if names not in self.param_edges:
        why = self.reasons.get(names, "not part of a layer this module recognizes")
        left_out.append(("/".join(names), why))
        continue
      s, r, kind, depth, offset = self.param_edges[names]
      s, r, kind = (
        np.broadcast_to(x if x.size != math.prod(shape) else x.reshape(shape), shape).ravel()
        for x in np.broadcast_arrays(s, r, kind)
      )
      if offset is None:
        offset = np.zeros((len(s), 2))
      edges.append((s, r, kind, np.full(len(s), depth), np.reshape(offset, (-1, 2))))
      shapes.append(shape)
      index.append(i)
      paths.append("/".join(names))
    num_param_edges = sum(len(e[0]) for e in edges)
    edges += [
      (s, r, k, np.full(len(s), d), np.zeros((len(s), 2))) for s, r, k, d in self.structural
    ]

    def cat(i, dtype):
      return np.concatenate([e[i] for e in edges] or [np.zeros((0, 2) if i == 4 else 0)]).astype(
        dtype
      )

    return NeuralGraph(
      node_type=np.asarray(self.node_type, np.int32),
      node_depth=np.asarray(self.node_depth, np.float32),
      node_index=np.asarray(self.node_index, np.int32),
      senders=cat(0, np.int32),
      receivers=cat(1, np.int32),
      edge_type=cat(2, np.int32),
      edge_offset=cat(4, np.float32),
      edge_depth=cat(3, np.float32),
      num_param_edges=num_param_edges,
      treedef=treedef,
      shapes=tuple(shapes),
      leaf_index=tuple(index),
      paths=tuple(paths),
      left_out=tuple(left_out),
    )


# ---------------------------------------------------------------------------------------
# Layers from names and shapes: the units of a parameter pytree, their order, residual blocks.
# ---------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Unit:
  """One layer: `kind` in dense, conv, embed, norm, recurrent, vector, attention; `leaves`:
  (role, path, shape) with roles kernel, bias, vector (dense/conv), table (embed), scale,
  bias (norm), input, recurrent, combined, bias (recurrent), value (vector)."""

  key: tuple[str, ...]
  kind: str
  leaves: tuple[tuple[str, tuple[str, ...], tuple[int, ...]], ...]

  def role(self, role: str):
    return [(p, s) for r, p, s in self.leaves if r == role]

  @property
  def weight(self) -> bool:
    return self.kind in ("dense", "conv", "embed", "recurrent")

  def widths(self) -> tuple[int | None, int | None]:
    """(input width, output width) as far as shapes tell (None where they do not)."""
    if self.kind in ("dense", "conv"):
      (_, s), *_ = self.role("kernel")
      return (s[0], 1) if len(s) == 1 else (s[-2], s[-1])
    if self.kind in ("norm", "vector"):
      size = math.prod(self.leaves[0][2])
      return size, size
    return None, None


def _cells(modules: dict) -> list[tuple[_Unit, set]]:
  """Recurrent cells: a module with an input and a recurrent kernel (`w_x`/`w_h`,
  `kernel`/`recurrent_kernel`, ...; flax nnx cells' `dense_i`/`dense_h` submodules), or an
  `lstm`/`gru`/`rnn` module with one kernel over the concatenated `[x, h]`; each with the
  modules it takes."""
  cells = []
  for parent, leaves in modules.items():
    mats = {n: s for n, s in leaves.items() if len(s) == 2}
    rec = [n for n in mats if _RECURRENT_LEAF.search(n)]
    name = parent[-1] if parent else ""
    if len(mats) == 2 and len(rec) == 1:
      (inp,) = set(mats) - set(rec)
      picked = {"input": [(*parent, inp)], "recurrent": [(*parent, rec[0])]}
    elif len(mats) == 1 and _CELL.search(name):
      picked = {"combined": [(*parent, next(iter(mats)))]}
    else:
      continue
    picked["bias"] = [(*parent, n) for n, s in leaves.items() if len(s) == 1]
    cells.append((parent, picked, {parent}))
  by_parent: dict[tuple[str, ...], dict[str, tuple[str, ...]]] = {}
  for p in modules:
    if p:
      by_parent.setdefault(p[:-1], {})[p[-1]] = p
  for parent, children in by_parent.items():
    rec = [c for c in children if _RECURRENT_LEAF.search(c)]
    inp = [c for c in children if _INPUT_LEAF.search(c)]
    if len(children) != 2 or len(rec) != 1 or len(inp) != 1:
      continue
    kernels = [
      next(((*children[c], k) for k in _KERNEL_NAMES if k in modules[children[c]]), None)
      for c in (inp[0], rec[0])
    ]
    if None in kernels:
      continue
    biases = [(*children[c], n) for c in children for n in _BIAS_NAMES if n in modules[children[c]]]
    picked = {"input": [kernels[0]], "recurrent": [kernels[1]], "bias": biases}
    cells.append((parent, picked, set(children.values())))
  shapes = {(*p, n): s for p, leaves in modules.items() for n, s in leaves.items()}
  out = []
  for key, picked, used in cells:
    units = [(role, path, shapes[path]) for role, paths in picked.items() for path in paths]
    kernels = [s for r, _, s in units if r != "bias"]
    if len({s[-1] for s in kernels}) == 1 and all(
      s[0] == kernels[0][-1] for r, _, s in units if r == "bias"
    ):
      out.append((_Unit(key, "recurrent", tuple(units)), used))
  return out


def _is_norm(name: str, leaves: dict) -> bool:
  if not leaves or any(len(s) != 1 for s in leaves.values()):
    return False
  names = set(leaves)
  known = set(_NORM_SCALES) | set(_NORM_BIASES)
  if not names <= known:
    return False
  return bool(names & {"scale", "gamma"}) or bool(_NORM_MODULE.search(name))


def _module_units(parent: tuple[str, ...], leaves: dict) -> list[_Unit]:
  """The units of one module's leaves (`leaves`: name -> shape)."""
  full = lambda n: (*parent, n)
  name = parent[-1] if parent else ""
  if _is_norm(name, leaves):
    roles = [
      ("scale" if n in _NORM_SCALES else "bias", full(n), s) for n, s in sorted(leaves.items())
    ]
    return [_Unit(parent, "norm", tuple(roles))]
  units, rest = [], dict(leaves)
  for n, s in leaves.items():
    if len(s) == 2 and axes.detect(s, full(n)) == "embedding":
      units.append(_Unit(full(n), "embed", (("table", full(n), s),)))
      del rest[n]
  kernels = [n for n in _KERNEL_NAMES if n in rest and len(rest[n]) >= 1]
  if len(kernels) == 1:
    k = kernels[0]
    shape = rest.pop(k)
    n_out = shape[-1] if len(shape) >= 2 else 1
    roles = [("kernel", full(k), shape)]
    for n in list(rest):
      s = rest[n]
      if len(s) <= 1 and math.prod(s) == n_out:
        roles.append(("bias" if n in _BIAS_NAMES else "vector", full(n), s))
        del rest[n]
    units.append(_Unit(parent, "conv" if len(shape) >= 3 else "dense", tuple(roles)))
  for n, s in rest.items():
    if len(s) >= 2:
      units.append(_Unit(full(n), "conv" if len(s) >= 3 else "dense", (("kernel", full(n), s),)))
    else:
      units.append(_Unit(full(n), "vector", (("value", full(n), s),)))
  return units


def _units(params: Any) -> list[_Unit]:
  """Every leaf in one unit, attention projections marked `attention`."""
  modules: dict[tuple[str, ...], dict[str, tuple[int, ...]]] = {}
  for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
    names = path_names(path)
    modules.setdefault(names[:-1], {})[names[-1] if names else ""] = tuple(np.shape(leaf))
  units, used = [], set()
  for cell, modules_used in _cells(modules):
    units.append(cell)
    used |= modules_used
  for parent, leaves in modules.items():
    if parent not in used:
      units += _module_units(parent, leaves)
  attention = {u.key[:-1] for u in units if any(_ATTENTION.search(n) for n in u.key)}
  return [
    _Unit(u.key, "attention", u.leaves)
    if any(_ATTENTION.search(n) for n in u.key)
    or (u.key and u.key[:-1] in attention and _ATTENTION_OUT.search(u.key[-1]))
    else u
    for u in units
  ]


def _is_prefix(prefix: tuple[str, ...], key: tuple[str, ...]) -> bool:
  return key[: len(prefix)] == prefix


def _ordered(units: list[_Unit], layer_order: Sequence[str] | None) -> list[_Unit]:
  """The units in layer order (see the module docstring); with `layer_order`, only those
  under one of its path prefixes, in its order (path order under one prefix)."""
  if layer_order is None:

    def priority(u):
      top = u.key[0] if u.key else ""
      if u.kind == "embed" or _FIRST.search(top):
        return 0
      return 2 if _FINAL_NORM.search(top) else 3 if _HEAD.search(top) else 1

    return sorted(units, key=lambda u: (priority(u), _natural_key(u.key)))
  prefixes = [tuple(p.split("/")) for p in layer_order]
  rank = lambda u: next((i for i, p in enumerate(prefixes) if _is_prefix(p, u.key)), None)
  listed = [u for u in units if rank(u) is not None]
  return sorted(listed, key=lambda u: (rank(u), _natural_key(u.key)))


def _residual_blocks(
  units: list[_Unit], residual_blocks: Sequence[str] | None
) -> list[tuple[int, int, int]]:
  """(first, last, last weight layer) unit positions of the residual blocks: the
  `residual_blocks` prefixes, or the innermost modules of two or more consecutive units with a
  norm (or `res` in their name) whose first input width is their last weight layer's output
  width."""
  spans = {}
  for i, u in enumerate(units):
    for k in range(1, len(u.key)):
      first, _ = spans.get(u.key[:k], (i, i))
      spans[u.key[:k]] = (first, i)

  def last_weight(first, last):
    return max((j for j in range(first, last + 1) if units[j].weight), default=None)

  if residual_blocks is not None:
    wanted = [tuple(p.split("/")) for p in residual_blocks]
    return [(*spans[p], last_weight(*spans[p])) for p in wanted if p in spans]
  found = []
  for prefix, (first, last) in spans.items():
    inside = units[first : last + 1]
    if len(inside) < 2 or any(not _is_prefix(prefix, u.key) for u in inside):
      continue
    weights = [u for u in inside if u.kind in ("dense", "conv")]
    marked = any(u.kind == "norm" for u in inside) or any(_RESIDUAL_NAME.search(n) for n in prefix)
    if weights and marked and inside[0].widths()[0] == weights[-1].widths()[1]:
      found.append((prefix, first, last))
  return [
    (f, la, last_weight(f, la))
    for p, f, la in found
    if not any(q != p and _is_prefix(p, q) for q, _, _ in found)
  ]


def _offsets(shape: tuple[int, ...], n_in: int, n_out: int) -> np.ndarray:
  """[*shape, 2]: a convolution kernel's (row, column) offsets in [-1, 1]; spatial axes past
  two, or a single one, are read as one row of positions."""
  spatial = shape[:-2]
  lin = lambda k: np.linspace(-1, 1, k) if k > 1 else np.zeros(1)
  if len(spatial) == 2:
    rows, cols = np.meshgrid(lin(spatial[0]), lin(spatial[1]), indexing="ij")
  else:
    rows, cols = lin(math.prod(spatial)).reshape(spatial), np.zeros(spatial)
  pair = np.stack([rows, cols], -1)[..., None, None, :]
  return np.broadcast_to(pair, (*spatial, n_in, n_out, 2))


def _place(
  params: Any,
  layer_order: Sequence[str] | None = None,
  residual_blocks: Sequence[str] | None = None,
) -> _Builder:
  """The nodes and edges of every unit that fits, layer after layer."""
  b = _Builder()
  units = []
  for u in _units(params):
    if u.kind == "attention":
      for _, path, _ in u.leaves:
        b.reasons[path] = "attention is graphed only in TransformerLM's layout, with num_heads"
    else:
      units.append(u)
  ordered = _ordered(units, layer_order)
  for u in set(units) - set(ordered):
    for _, path, _ in u.leaves:
      b.reasons[path] = "not under any prefix of layer_order"
  blocks = _residual_blocks(ordered, residual_blocks)
  num_weights = max(sum(u.weight for u in ordered), 1)
  # The neurons the next layer reads; the last weight layer's new neurons (the outputs, if
  # it is the last); open residual blocks: (last unit, last weight unit, input neurons).
  at = {"stream": None, "made": None}
  open_blocks: list[tuple[int, int | None, np.ndarray | None]] = []

  def new_inputs(n, kind="input"):
    return b.nodes(kind, n, 0.0, index=True)

  def place(i: int, u: _Unit, depth: float) -> str | None:
    """Places `u`; None, or why it does not fit."""
    stream = at["stream"]
    width = None if stream is None else len(stream)
    if u.kind in ("dense", "conv"):
      (k_path, shape), *_ = u.role("kernel")
      n_in, n_out = u.widths()
      patches = 1
      if stream is not None and n_in != width:
        if u.kind == "conv" or not width or n_in % width:
          return f"fan-in {n_in} matches no layer below (width {width})"
        patches = n_in // width
      below = new_inputs(n_in) if stream is None else stream
      into = [s for _, lw, s in open_blocks if lw == i and s is not None and len(s) == n_out]
      above = into[-1] if into else b.nodes("hidden", n_out, depth)
      if into:
        b.retype(above, "residual", indexed=False)
      if u.kind == "conv":
        b.leaf(k_path, below[:, None], above[None, :], "conv", depth, _offsets(shape, n_in, n_out))
      elif patches > 1:
        position = np.repeat(np.linspace(-1, 1, patches), width)
        offset = np.stack([position, np.zeros_like(position)], -1)[:, None, :]
        senders = np.tile(below, patches)[:, None]
        b.leaf(k_path, senders, above[None, :], "conv", depth, np.broadcast_to(offset, (*shape, 2)))
      elif len(shape) == 1:
        b.leaf(k_path, below, above, "dense", depth)
      else:
        b.leaf(k_path, below[:, None], above[None, :], "dense", depth)
      for role in ("bias", "vector"):
        for path, s in u.role(role):
          b.leaf(path, b.nodes("bias", 1, depth), above.reshape(s), role, depth)
      at["stream"], at["made"] = above, (None if into else above)
    elif u.kind == "embed":
      ((path, (vocab, d)),) = u.role("table")
      if stream is not None and width != d:
        return f"width {d} is not the width {width} of the embedding below"
      position = bool(_POSITION.search(path[-1]))
      tokens = new_inputs(vocab, "position" if position else "input")
      above = stream if stream is not None else b.nodes("hidden", d, depth)
      b.leaf(path, tokens[:, None], above[None, :], "position" if position else "embed", 0.0)
      at["stream"], at["made"] = above, None
    elif u.kind == "recurrent":
      placed = _recurrent(b, u, stream, depth, new_inputs)
      if isinstance(placed, str):
        return placed
      at["stream"], at["made"] = placed, placed
    else:  # norm, vector: on the neurons of the layer below
      size = math.prod(u.leaves[0][2])
      if stream is None:
        return f"size {size}, and no layer below to belong to"
      if any(math.prod(s) != width for _, _, s in u.leaves):
        return f"size {size} is not the width {width} of the layer below"
      node = b.nodes("norm" if u.kind == "norm" else "bias", 1, depth)
      for role, path, s in u.leaves:
        kind = {"scale": "norm_scale", "bias": "norm_bias"}.get(role, "vector")
        b.leaf(path, node, stream.reshape(s), kind if u.kind == "norm" else "vector", depth)
    return None

  done = 0
  for i, u in enumerate(ordered):
    for first, last, last_weight in sorted(blocks, key=lambda s: -s[1]):
      if first == i:
        open_blocks.append((last, last_weight, at["stream"]))
    done += u.weight
    why = place(i, u, done / num_weights)
    if why is not None:
      for _, path, _ in u.leaves:
        b.reasons[path] = why
    while open_blocks and open_blocks[-1][0] == i:
      _, _, entry = open_blocks.pop()
      stream = at["stream"]
      if entry is not None and stream is not None and len(entry) == len(stream):
        at["stream"] = entry
  if at["made"] is not None:
    b.retype(at["made"], "output", indexed=True)
  return b


def _recurrent(b: _Builder, u: _Unit, stream, depth: float, new_inputs) -> np.ndarray | str:
  """Places a recurrent cell; its hidden units (the new stream), or why it does not fit."""
  width = None if stream is None else len(stream)
  combined = u.role("combined")
  if combined:
    ((path, (rows, cols)),) = combined
    name = next((g for g in _GATES if g in "/".join(u.key).lower()), None)
    fits = [
      g
      for g in ([_GATES[name]] if name else (4, 3, 1))
      if cols % g == 0 and rows > cols // g and (width is None or rows - cols // g == width)
    ]
    if not fits:
      return f"[x, h] kernel of shape {(rows, cols)} does not fit a layer below of width {width}"
    gates = fits[0]
    hidden_width, n_in = cols // gates, rows - cols // gates
  else:
    ((in_path, (n_in, cols)),), ((rec_path, (hidden_width, _)),) = (
      u.role("input"),
      u.role("recurrent"),
    )
    gates = cols // max(hidden_width, 1)
    if not hidden_width or cols % hidden_width or width not in (None, n_in):
      return f"input kernel of fan-in {n_in} does not fit a layer below of width {width}"
  below = new_inputs(n_in) if stream is None else stream
  hidden = b.nodes("hidden", hidden_width, depth)
  gate_nodes = b.nodes("gate", cols, depth, index=np.repeat(np.arange(gates), hidden_width))
  b.link(gate_nodes, np.tile(hidden, gates), "gate_member", depth)
  if combined:
    senders = np.concatenate([below, hidden])[:, None]
    kinds = np.repeat(["dense", "recurrent"], [n_in, hidden_width])[:, None]
    b.leaf(path, senders, gate_nodes[None, :], kinds, depth)
  else:
    b.leaf(in_path, below[:, None], gate_nodes[None, :], "dense", depth)
    b.leaf(rec_path, hidden[:, None], gate_nodes[None, :], "recurrent", depth)
  for path, _ in u.role("bias"):
    b.leaf(path, b.nodes("bias", 1, depth), gate_nodes, "bias", depth)
  return hidden


def layered(
  params: Any,
  layer_order: Sequence[str] | None = None,
  residual_blocks: Sequence[str] | None = None,
) -> NeuralGraph:
  """The neural graph of any parameter pytree, from its names and shapes (module docstring):
  dense, convolution and dense-over-patches layers, norms, vectors and scalars, embeddings,
  residual blocks, recurrent cells; the tensors that fit none are left out, with reasons.

  Args:
    params: the parameters (arrays or shape structs).
    layer_order: path prefixes (`"blocks/0"`, `"head"`) in layer order, where names do not
      tell it; only the tensors under one of them are graphed.
    residual_blocks: the path prefixes of the residual blocks (`x + f(x)`), instead of the
      detected ones; `()` for none.
  """
  return _place(params, layer_order, residual_blocks).build(params)


def input_kernels(params: Any) -> set[tuple[str, ...]]:
  """The paths of the tensors that read the network's input, by µP's conventions
  (`learned_opt.mup`): the token and position embeddings (`embed`, `pos`: `tasks.language`'s
  LMs) when there are any; otherwise, when every module is one dense (2-D) or convolution
  (4-D) kernel `w`/`kernel` with an optional `b`/`bias`, the first module's kernel in path
  order (`tasks` MLPs and CNNs, nnx `Linear` stacks); otherwise none.
  """
  flat = jax.tree_util.tree_flatten_with_path(params)[0]
  names = [path_names(p) for p, _ in flat]
  embeddings = {n for n in names if n and n[-1] in ("embed", "pos")}
  if embeddings:
    return embeddings
  modules: dict[tuple[str, ...], dict[str, int]] = {}
  for n, (_, leaf) in zip(names, flat, strict=True):
    if not n:
      return set()
    modules.setdefault(n[:-1], {})[n[-1]] = np.ndim(leaf)
  kernels = []
  for parent in sorted(modules, key=_natural_key):
    leaves = modules[parent]
    kernel = [k for k in _KERNEL_NAMES if leaves.get(k) in (2, 4)]
    if len(kernel) != 1 or set(leaves) - {kernel[0], *_BIAS_NAMES}:
      return set()
    kernels.append((*parent, kernel[0]))
  return set(kernels[:1])


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
  tokens = b.nodes("input", vocab, 0.0, index=True)
  positions = b.nodes("position", seq_len, 0.0, index=True)
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
  dense(("out",), res, b.nodes("output", vocab, 1.0, index=True), "dense", 1.0)
  return b.build(params)


def infer(
  params: Any,
  num_heads: int | None = None,
  layer_order: Sequence[str] | None = None,
  residual_blocks: Sequence[str] | None = None,
) -> NeuralGraph:
  """The neural graph of `params`: `transformer` for a `tasks.language.TransformerLM` when
  `num_heads` is given, otherwise `layered` (which leaves out what it cannot place). Never
  raises for a model it does not recognize."""
  names = [path_names(p) for p, _ in jax.tree_util.tree_flatten_with_path(params)[0]]
  if num_heads is not None and layer_order is None and any("qkv" in n for n in names):
    try:
      return transformer(params, num_heads)
    except (KeyError, IndexError, TypeError, ValueError):  # another layout: placed layer by layer
      pass
  return layered(params, layer_order, residual_blocks)
