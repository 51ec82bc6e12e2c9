"""Tasks: the zoo, families under vmap, in-graph batch sampling, reparameterization, training.

Dataset facts are in test_tasks_data.py. Nothing here may reach the network: an autouse
fixture makes every socket connection fail.
"""

import socket

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import tasks
from tasks import datasets, heldout, reparam, zoo


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
  def refuse(*args, **kwargs):
    raise RuntimeError("tests must not reach the network")

  monkeypatch.setattr(socket.socket, "connect", refuse)
  monkeypatch.setattr(socket, "create_connection", refuse)


def _skip_unless_available(*names):
  for name in names:
    reason = datasets.unavailable_reason(name)
    if reason is not None:
      pytest.skip(reason)


def _adam_run(task, lr, num_steps):
  """One compilation: initial loss and gradients, then `num_steps` Adam steps (losses)."""
  opt = optax.adam(lr)

  @jax.jit
  def run(sampler, key):
    k_init, k_batch, k_steps = jax.random.split(key, 3)
    params = task.init(k_init)
    loss0, grads0 = jax.value_and_grad(task.loss)(params, k_batch, sampler.sample(k_batch))

    def step(carry, k):
      p, s = carry
      loss, g = jax.value_and_grad(task.loss)(p, k, sampler.sample(k))
      u, s = opt.update(g, s, p)
      return (optax.apply_updates(p, u), s), loss

    _, losses = jax.lax.scan(step, (params, opt.init(params)), jax.random.split(k_steps, num_steps))
    return params, loss0, grads0, losses

  return run(task.batches("train"), jax.random.PRNGKey(0))


@pytest.mark.parametrize("name", tasks.names())
def test_zoo_task_shapes_finite_and_adam_learns(name):
  _skip_unless_available(*zoo.datasets_of(name))
  task = tasks.get(name)
  hash(task)  # zoo tasks are hashable (usable as static arguments)
  params, loss, grads, losses = _adam_run(task, tasks.adam_lr(name), 300)
  shapes = jax.eval_shape(task.init, jax.random.PRNGKey(1))
  assert jax.tree.map(jnp.shape, params) == jax.tree.map(lambda s: s.shape, shapes)
  assert loss.shape == () and np.isfinite(loss)
  assert jax.tree.structure(grads) == jax.tree.structure(params)
  assert all(np.all(np.isfinite(g)) for g in jax.tree.leaves(grads))
  assert np.isfinite(task.normalize(loss))
  # Adam lowers the loss clearly within 300 steps.
  first, last = losses[:20].mean(), losses[-20:].mean()
  assert np.all(np.isfinite(losses))
  assert last < 0.75 * first, (first, last)
  assert task.normalize(last) < task.normalize(first)


def test_zoo_size_and_kinds():
  names = tasks.names()
  assert len(names) >= 20
  kinds = {type(tasks.get(n)).__name__ for n in names}
  assert {
    "Quadratic",
    "Rosenbrock",
    "MLPClassifier",
    "CNNClassifier",
    "MLPAutoencoder",
    "TransformerLM",
    "LSTMLM",
  } <= kinds
  assert any(
    tasks.get(n).hidden == () for n in names if isinstance(tasks.get(n), tasks.MLPClassifier)
  )


def test_unknown_names_suggest_close_matches():
  with pytest.raises(ValueError, match="Did you mean 'digits_mlp_32'"):
    tasks.get("digits_mlp_23")
  with pytest.raises(ValueError, match="Did you mean 'quadratic'"):
    tasks.get_family("quadratc")
  with pytest.raises(ValueError, match="Bad arguments for task family 'quadratic'"):
    tasks.get_family("quadratic", dims=3)
  with pytest.raises(ValueError, match="Unknown split"):
    tasks.get("digits_mlp_32").batches("training")
  with pytest.raises(ValueError, match="Unknown dataset"):
    tasks.MLPClassifier(dataset="cifar")
  with pytest.raises(ValueError, match="Unknown text corpus"):
    tasks.LSTMLM(corpus="quran")


def test_quadratic_loss_matches_numpy():
  task = tasks.Quadratic(dim=4, log10_condition=2.0, log10_scale=0.5, noise=0.3, seed=7)
  params = {"x": jnp.asarray([0.1, -0.2, 0.3, 0.5])}
  batch = {"noise": jnp.asarray([1.0, -1.0, 0.5, 0.0])}
  h = 10.0 ** (0.5 - 2.0 * np.linspace(0, 1, 4))
  c = np.asarray(task.optimum())
  expected = 0.5 * np.sum(h * (np.asarray(params["x"]) - c - 0.3 * np.asarray(batch["noise"])) ** 2)
  np.testing.assert_allclose(task.loss(params, None, batch), expected, rtol=1e-6)
  np.testing.assert_allclose(h.max() / h.min(), 100.0, rtol=1e-5)
  # The optimum is not the initial point of `tasks.train(seed=0)`.
  assert tasks.train(tasks.get("quadratic_10d"), optax.sgd(0.0), num_steps=2)["train_loss"][0] > 1


def test_rosenbrock_minimum_and_normalizer():
  task = tasks.Rosenbrock(dim=4)
  zero = {"noise": jnp.zeros(4)}
  assert float(task.loss({"x": jnp.ones(4)}, None, zero)) == 0.0
  np.testing.assert_allclose(task.normalize(task.value(task.start())), 1.0, rtol=1e-6)
  assert float(task.normalize(0.0)) == 0.0


def test_normalizers_put_reference_losses_at_one():
  clf = tasks.get("digits_mlp_32")
  np.testing.assert_allclose(clf.normalize(jnp.log(10.0)), 1.0, rtol=1e-6)  # uniform guess
  assert float(clf.normalize(1e6)) == 1.5  # clipped
  ae = tasks.get("digits_autoencoder")
  x, _ = datasets.load("digits", "train")
  mean_image_mse = np.mean((x - x.mean(0)) ** 2)
  np.testing.assert_allclose(ae.normalize(mean_image_mse), 1.0, rtol=1e-5)


def test_batches_are_sampled_in_graph_from_a_key():
  sampler = tasks.get("digits_mlp_32").batches("train")
  draw = jax.jit(lambda s, k: s.sample(k))
  a, b = draw(sampler, jax.random.PRNGKey(0)), draw(sampler, jax.random.PRNGKey(0))
  c = draw(sampler, jax.random.PRNGKey(1))
  np.testing.assert_array_equal(a["x"], b["x"])
  assert not np.array_equal(a["x"], c["x"])
  assert a["x"].shape == (64, 64) and a["y"].shape == (64,)
  # The dataset is an argument of the jitted function, not a baked-in constant.
  assert draw._cache_size() == 1
  assert "1197" in str(jax.make_jaxpr(lambda s, k: s.sample(k))(sampler, jax.random.PRNGKey(0)))


@pytest.mark.parametrize("split", tasks.SPLITS)
def test_image_batches_come_from_their_split(split):
  task = tasks.get("digits_cnn")
  batch = jax.jit(lambda s, k: s.sample(k))(task.batches(split), jax.random.PRNGKey(3))
  assert batch["x"].shape == (32, 16, 16, 1)
  x, _ = datasets.images("digits", split, 16)
  rows = {r.tobytes() for r in x}
  assert all(np.asarray(r).tobytes() in rows for r in batch["x"])


@pytest.mark.parametrize("split", tasks.SPLITS)
def test_text_batches_are_keyed_windows_of_their_split(split):
  _skip_unless_available("shakespeare")
  task = tasks.get("shakespeare_lstm")
  sampler = task.batches(split)
  draw = jax.jit(lambda s, k: s.sample(k))
  a, b = draw(sampler, jax.random.PRNGKey(0)), draw(sampler, jax.random.PRNGKey(0))
  c = draw(sampler, jax.random.PRNGKey(1))
  np.testing.assert_array_equal(a["tokens"], b["tokens"])
  assert not np.array_equal(a["tokens"], c["tokens"])
  assert a["tokens"].shape == (task.batch_size, task.seq_len + 1)
  assert a["tokens"].dtype == jnp.int32
  stream = datasets.text("shakespeare", split).tobytes()
  assert all(bytes(np.asarray(w, np.uint8)) in stream for w in a["tokens"])
  draw(tasks.get("shakespeare_lstm").batches(split), jax.random.PRNGKey(2))
  assert draw._cache_size() == 1  # the token stream is an argument


def _family(name, **kwargs):
  family = tasks.get_family(name, **kwargs)
  if isinstance(family, tasks.LMFamily):
    _skip_unless_available(family.corpus)
  return family


@pytest.mark.parametrize("family_name", tasks.family_names())
def test_family_members_vmap(family_name):
  family = _family(family_name)
  cfgs = jax.vmap(family.sample)(jax.random.split(jax.random.PRNGKey(0), 4))
  sampler = family.batches("train")

  def member_loss(cfg, key):
    task = family.task(cfg)
    return task.loss(task.init(key), key, sampler.sample(key))

  losses = jax.jit(jax.vmap(member_loss))(cfgs, jax.random.split(jax.random.PRNGKey(1), 4))
  assert losses.shape == (4,) and np.all(np.isfinite(losses))
  assert len(np.unique(np.asarray(losses))) == 4  # members differ


_POPULATIONS = [
  ("quadratic", {"dim": 8, "reparam": (-1.0, 1.0)}),
  ("digits_mlp", {"hidden": (16,), "batch_size": 32}),
  (
    "image_mlp",
    {"dataset": "digits", "resolution": 16, "hidden": (16, 16), "activation": "gelu"},
  ),
  ("image_mlp", {"dataset": "mnist_subset", "resolution": 8, "hidden": (16,), "reparam": (-1, 1)}),
  ("char_lm", {"model": "transformer", "width": 16, "seq_len": 16, "batch_size": 8}),
  ("char_lm", {"model": "lstm", "tokens": "chars", "width": 16, "seq_len": 16, "reparam": (-1, 1)}),
]


@pytest.mark.parametrize(("family_name", "kwargs"), _POPULATIONS)
def test_population_of_8_runs_one_jitted_step_with_one_compilation(family_name, kwargs):
  family = _family(family_name, **kwargs)
  opt = optax.adam(1e-2)
  sampler = family.batches("train")

  def member_init(cfg, key):
    params = family.task(cfg).init(key)
    return params, opt.init(params)

  @jax.jit
  def step(cfgs, params, opt_state, sampler, keys):
    def member(cfg, p, s, k):
      task = family.task(cfg)
      loss, g = jax.value_and_grad(task.loss)(p, k, sampler.sample(k))
      u, s = opt.update(g, s, p)
      return optax.apply_updates(p, u), s, loss

    return jax.vmap(member)(cfgs, params, opt_state, keys)

  for seed in range(2):  # two different populations
    keys = jax.random.split(jax.random.PRNGKey(seed), 8)
    cfgs = jax.vmap(family.sample)(keys)
    params, opt_state = jax.vmap(member_init)(cfgs, keys)
    params, opt_state, losses = step(cfgs, params, opt_state, sampler, keys)
    assert losses.shape == (8,) and np.all(np.isfinite(losses))
  assert step._cache_size() == 1


def test_reparameterization_keeps_the_function_and_scales_gradients():
  base = tasks.get("digits_mlp_32")
  shapes = jax.eval_shape(base.init, jax.random.PRNGKey(0))
  scales = reparam.sample_param_scales(jax.random.PRNGKey(1), shapes, (-1.0, 1.0))
  task = tasks.Reparameterized(base, scales)
  key, batch = jax.random.PRNGKey(2), base.batches("train").sample(jax.random.PRNGKey(3))
  p = task.init(key)
  np.testing.assert_allclose(
    task.loss(p, key, batch), base.loss(base.init(key), key, batch), rtol=1e-6
  )
  g_base = jax.grad(base.loss)(base.init(key), key, batch)
  g = jax.grad(task.loss)(p, key, batch)
  for gb, gr, s in zip(*(jax.tree.leaves(t) for t in (g_base, g, scales)), strict=True):
    np.testing.assert_allclose(gr, gb * s, rtol=1e-4, atol=1e-6)
  values = np.array(jax.tree.leaves(scales))
  assert np.all((values >= 0.1) & (values <= 10.0)) and len(np.unique(values)) == len(values)
  assert task.accuracy(p, batch) == base.accuracy(base.init(key), batch)
  # A family with augmentation samples one scale per tensor, fixed per member.
  family = tasks.get_family("digits_mlp", reparam=(-1.0, 1.0))
  cfg = family.sample(jax.random.PRNGKey(4))
  assert jax.tree.structure(cfg["param_scales"]) == jax.tree.structure(shapes)
  assert isinstance(family.task(cfg), tasks.Reparameterized)
  assert not isinstance(
    tasks.get_family("digits_mlp").task(tasks.get_family("digits_mlp").sample(key)),
    tasks.Reparameterized,
  )


def test_heldout_split_covers_the_zoo_and_differs():
  splits = (set(tasks.META_TRAIN), set(tasks.META_VALID), set(tasks.META_TEST))
  assert sum(map(len, splits)) == len(set.union(*splits)) == len(tasks.names())
  assert {heldout.split_of(n) for n in tasks.META_VALID} == {"meta_valid"}
  # Meta-validation tasks are of the meta-training kinds and datasets, at unseen settings.
  valid_data = {d for n in tasks.META_VALID for d in zoo.datasets_of(n)}
  valid_kinds = {type(tasks.get(n)).__name__ for n in tasks.META_VALID}
  train_kinds_data = {d for n in tasks.META_TRAIN for d in zoo.datasets_of(n)}
  assert valid_data <= train_kinds_data
  assert valid_kinds <= {type(tasks.get(n)).__name__ for n in tasks.META_TRAIN}
  train_data = {d for n in tasks.META_TRAIN for d in zoo.datasets_of(n)}
  test_data = {d for n in tasks.META_TEST for d in zoo.datasets_of(n)}
  assert test_data - train_data >= {"fashion_mnist", "bible", "jargon"}
  train_kinds = {type(tasks.get(n)).__name__ for n in tasks.META_TRAIN}
  test_kinds = {type(tasks.get(n)).__name__ for n in tasks.META_TEST}
  assert test_kinds - train_kinds >= {"CNNClassifier", "MLPAutoencoder"}
  for split in ("meta_train", "meta_test"):
    for name, space in heldout.SPACES.items():
      for seed in range(6):
        arch = heldout.sample_architecture(name, jax.random.PRNGKey(seed), split)
        assert all(arch[k] in v for k, v in space[split].items())
  train_widths = set(heldout.SPACES["image_mlp"]["meta_train"]["width"])
  assert max(train_widths) < min(heldout.SPACES["image_mlp"]["meta_test"]["width"])
  family = tasks.sample_family("image_mlp", jax.random.PRNGKey(0), "meta_test", reparam=(-1, 1))
  assert family.dataset == "fashion_mnist" and family.reparam == (-1, 1)
  assert max(family.hidden) >= 64


def test_train_with_adam_reduces_digits_loss():
  out = tasks.train(tasks.get("digits_mlp_32"), optax.adam(1e-2), num_steps=150, seed=0)
  assert out["train_loss"].shape == (150,)
  assert out["train_loss"][-10:].mean() < 0.3 * out["train_loss"][:10].mean()
  assert out["test_loss"] < 0.5 < np.log(10)
