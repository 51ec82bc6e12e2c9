"""baselines.axes: one test per layout (dense, conv, embedding, vector, scalar), detection
from shape and path, and the views' round trips."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from baselines import axes


def _arange(shape):
  return jnp.arange(int(np.prod(shape)), dtype=jnp.float32).reshape(shape)


def test_dense_in_out():
  """(in, out): channel = output axis 1; a channel's vector is the column w[:, j]."""
  w = _arange((3, 5))
  assert axes.detect(w.shape) == axes.detect(w.shape, ("dense_0", "w")) == "dense"
  assert axes.channel_axis("dense", 2) == 1
  assert axes.within_channel_axes("dense", 2) == (0,)
  assert axes.fan_in_axes("dense", 2) == (0,) and axes.fan_out_axis("dense", 2) == 1
  assert axes.matrix_shape(w.shape) == (3, 5)
  view = axes.channel_view(w, "dense")
  assert view.shape == (5, 3)
  np.testing.assert_array_equal(view[2], w[:, 2])
  np.testing.assert_array_equal(axes.from_channel_view(view, w.shape, "dense"), w)


def test_conv_hwio():
  """(h, w, in, out): channel = output axis 3; fan-in = h * w * in."""
  k = _arange((2, 3, 4, 6))
  assert axes.detect(k.shape) == axes.detect(k.shape, ("conv_0", "w")) == "conv"
  assert axes.channel_axis("conv", 4) == 3
  assert axes.within_channel_axes("conv", 4) == (0, 1, 2)
  assert axes.fan_in_axes("conv", 4) == (0, 1, 2) and axes.fan_out_axis("conv", 4) == 3
  assert axes.matrix_shape(k.shape) == (24, 6)
  m = axes.as_matrix(k)
  np.testing.assert_array_equal(m[:, 4], k[..., 4].reshape(-1))
  np.testing.assert_array_equal(axes.from_matrix(m, k.shape), k)
  view = axes.channel_view(k, "conv")
  assert view.shape == (6, 24)
  np.testing.assert_array_equal(view[4], k[..., 4].reshape(-1))
  np.testing.assert_array_equal(axes.from_channel_view(view, k.shape, "conv"), k)


def test_embedding_vocab_d():
  """(vocab, d): channel = the token (axis 0), a channel's vector is the row; the matrix view
  is (vocab, d) (one-hot input)."""
  e = _arange((7, 4))
  for names in (("embed",), ("pos",), ("wte", "weight"), ("Embed_0", "embedding")):
    assert axes.detect(e.shape, names) == "embedding", names
  assert axes.detect(e.shape, ("patch_embed", "proj", "kernel")) == "dense"
  assert axes.channel_axis("embedding", 2) == 0
  assert axes.within_channel_axes("embedding", 2) == (1,)
  assert axes.fan_in_axes("embedding", 2) == (0,) and axes.matrix_shape(e.shape) == (7, 4)
  view = axes.channel_view(e, "embedding")
  np.testing.assert_array_equal(view, e)
  np.testing.assert_array_equal(axes.from_channel_view(view, e.shape, "embedding"), e)


def test_vector_and_scalar():
  """Vectors and scalars are one unit; they have no matrix view."""
  b, s = _arange((5,)), jnp.float32(2.0)
  assert axes.detect(b.shape, ("ln_1", "scale")) == "vector"
  assert axes.detect(s.shape) == "scalar"
  assert axes.channel_axis("vector", 1) is None and axes.within_channel_axes("vector", 1) == (0,)
  assert axes.within_channel_axes("scalar", 0) == ()
  assert axes.fan_in_axes("vector", 1) == () and axes.fan_out_axis("vector", 1) is None
  assert axes.matrix_shape(b.shape) is None
  assert axes.channel_view(b, "vector").shape == (1, 5)
  np.testing.assert_array_equal(
    axes.from_channel_view(axes.channel_view(b, "vector"), (5,), "vector"), b
  )
  with pytest.raises(ValueError, match="at least 2 axes"):
    axes.as_matrix(b)


def test_layouts_of_a_tree_and_bad_layouts():
  params = {
    "embed": jnp.zeros((11, 4)),
    "pos": jnp.zeros((8, 4)),
    "block_0": {"qkv": {"w": jnp.zeros((4, 12)), "b": jnp.zeros((12,))}},
    "conv_0": {"w": jnp.zeros((3, 3, 1, 8))},
    "t": jnp.zeros(()),
  }
  assert axes.layouts(params) == {
    "embed": "embedding",
    "pos": "embedding",
    "block_0": {"qkv": {"w": "dense", "b": "vector"}},
    "conv_0": {"w": "conv"},
    "t": "scalar",
  }
  assert jax.tree.structure(axes.layouts(params)) == jax.tree.structure(params)
  with pytest.raises(ValueError, match="Unknown layout"):
    axes.channel_axis("matrix", 2)
  with pytest.raises(ValueError, match="cannot have 3 axes"):
    axes.channel_axis("dense", 3)
