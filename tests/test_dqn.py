"""The DQN learner and the state encoder, on synthetic transitions: no browser, fixed seeds, seconds."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import fields

import numpy as np
import pytest
import torch

from agent.context import DEVICE_CLASSES, Context, StateEncoder, classify_device
from agent.dqn import Batch, DQNAgent, DQNConfig, QNetwork, epsilon_at, load_checkpoint
from agent.kernel import CheckpointError

PAGES = ("/index.html", "/product.html", "/cart.html")
SMALL = (64, 64)  # for tests of bookkeeping, where the seed's 256-128-64 only costs time


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    # Batches of 32 gain nothing from intra-op threads, and on a busy 2-core machine OpenMP threads
    # contending for cores make each step ~10x slower; restore the setting for other test modules.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# -- state encoder ---------------------------------------------------------------------------------------


def test_encoder_layout_is_fixed_and_named() -> None:
    enc = StateEncoder(PAGES, n_actions=5)
    assert enc.dim == 3 + 1 + 1 + 7 + 4 + 1 + 6
    assert len(enc.feature_names) == enc.dim
    x = enc.encode(Context("phone", 390, True, "search", "/cart.html", step=3, previous_action=2))
    assert x.dtype == np.float32 and x.shape == (enc.dim,)
    on = {name for name, v in zip(enc.feature_names, x, strict=True) if v == 1.0}
    assert on == {"device=phone", "touch", "traffic_source=search", "page=/cart.html", "previous_action=2"}
    named = dict(zip(enc.feature_names, x, strict=True))
    assert named["viewport_width"] == pytest.approx(390 / 2560)
    assert named["step"] == pytest.approx(3 / 20)


def test_encoder_unknowns_go_to_other_and_numbers_saturate() -> None:
    enc = StateEncoder(PAGES, n_actions=3)
    x = enc.encode(Context("desktop", 10_000, False, "carrier-pigeon", "https://shop.test/blog.html?x=1",
                           step=99))
    named = dict(zip(enc.feature_names, x, strict=True))
    assert named["traffic_source=other"] == 1 and named["page=other"] == 1
    assert named["previous_action=none"] == 1
    assert named["viewport_width"] == 1.0 and named["step"] == 1.0
    # A full URL of a known page is that page.
    y = enc.encode(Context("desktop", 1440, False, page="http://127.0.0.1:8000/cart.html"))
    assert dict(zip(enc.feature_names, y, strict=True))["page=/cart.html"] == 1
    batch = enc.encode_batch([Context("phone", 390, True), Context("tablet", 820, True)])
    assert batch.shape == (2, enc.dim)
    with pytest.raises(ValueError):
        enc.encode(Context("phone", 390, True, previous_action=3))


def test_context_holds_observable_fields_only() -> None:
    assert [f.name for f in fields(Context)] == ["device_class", "viewport_width", "touch", "traffic_source",
                                                 "page", "step", "previous_action"]
    with pytest.raises(TypeError):
        Context("phone", 390, True, patience=0.5)  # type: ignore[call-arg]
    with pytest.raises(ValueError):
        Context("watch", 200, True)  # type: ignore[arg-type]
    assert [classify_device(w, t) for w, t in ((390, True), (820, True), (1440, False))] == list(DEVICE_CLASSES)


# -- Double-DQN targets, by hand -------------------------------------------------------------------------


def _set_constant_q(net: QNetwork, values: list[float]) -> None:
    """All weights 0 and the head's bias = values: Q(s, ·) = values for every state."""
    with torch.no_grad():
        for p in net.parameters():
            p.zero_()
        net.net[-1].bias.copy_(torch.tensor(values))


def _batch(rewards: list[float], dones: list[bool], next_masks: list[list[bool]], dim: int = 2) -> Batch:
    n = len(rewards)
    return Batch(states=torch.zeros(n, dim), actions=torch.zeros(n, dtype=torch.int64),
                 rewards=torch.tensor(rewards), next_states=torch.ones(n, dim),
                 dones=torch.tensor(dones), next_masks=torch.tensor(next_masks))


def _tiny_agent(**overrides: object) -> DQNAgent:
    config = DQNConfig(hidden=(4,), gamma=0.9, **overrides)  # type: ignore[arg-type]
    return DQNAgent(state_dim=2, n_actions=3, config=config)


def test_double_dqn_target_matches_hand_computation() -> None:
    agent = _tiny_agent()
    _set_constant_q(agent.q_network, [1.0, 5.0, 3.0])  # online: picks the next action
    _set_constant_q(agent.target_network, [10.0, 2.0, 7.0])  # target: values it
    batch = _batch(rewards=[1.0, 0.5, -1.0], dones=[False, False, True],
                   next_masks=[[True, True, True], [True, False, True], [False, False, False]])
    # 1: online argmax = 1 → target Q = 2 → 1 + 0.9·2 = 2.8
    # 2: action 1 masked → online argmax over {0, 2} = 2 → target Q = 7 → 0.5 + 0.9·7 = 6.8
    # 3: terminal → the reward alone, even with an all-False mask
    assert agent.td_targets(batch).tolist() == pytest.approx([2.8, 6.8, -1.0])

    vanilla = _tiny_agent(double=False)
    _set_constant_q(vanilla.target_network, [10.0, 2.0, 7.0])
    # max over allowed target values: 10 for both non-terminal rows.
    assert vanilla.td_targets(batch).tolist() == pytest.approx([1.0 + 9.0, 0.5 + 9.0, -1.0])


def test_masked_next_action_is_never_bootstrapped() -> None:
    for double in (True, False):
        agent = _tiny_agent(double=double)
        _set_constant_q(agent.q_network, [1.0, 1e6, 3.0])
        _set_constant_q(agent.target_network, [4.0, 1e9, 7.0])
        batch = _batch(rewards=[0.0], dones=[False], next_masks=[[True, False, True]])
        assert agent.td_targets(batch).item() == pytest.approx(0.9 * 7.0)


# -- masking when acting and exploring -------------------------------------------------------------------


def test_masked_actions_are_never_chosen_greedy_or_exploring() -> None:
    n_actions, dim = 8, 5
    for seed in range(40):
        rng = np.random.default_rng(1000 + seed)
        # eps 1 → 1: pure exploration; greedy=True: pure exploitation.
        agent = DQNAgent(dim, n_actions, DQNConfig(seed=seed, hidden=(16,), eps_start=1.0, eps_end=1.0))
        for _ in range(25):
            state = rng.normal(size=dim).astype(np.float32)
            mask = rng.random(n_actions) < 0.4
            mask[0] = True  # the control is always allowed
            probs = agent.action_probabilities(state, mask)
            assert probs.sum() == pytest.approx(1.0) and np.all(probs[~mask] == 0)
            a, p = agent.act(state, mask)
            assert mask[a] and p == pytest.approx(probs[a])
            g, pg = agent.act(state, mask, greedy=True)
            assert mask[g] and pg == 1.0


def test_best_q_action_is_skipped_when_masked() -> None:
    agent = DQNAgent(2, 4, DQNConfig(hidden=(4,), eps_start=0.5, eps_end=0.5))
    _set_constant_q(agent.q_network, [0.0, 100.0, 1.0, 2.0])
    mask = np.array([True, False, True, False])
    assert agent.act(np.zeros(2), mask, greedy=True) == (2, 1.0)
    seen = {agent.act(np.zeros(2), mask)[0] for _ in range(500)}
    assert seen == {0, 2}
    # ε-greedy propensity: 0.5/2 for the explored one, 0.5/2 + 0.5 for the greedy one.
    assert agent.action_probabilities(np.zeros(2), mask).tolist() == pytest.approx([0.25, 0.0, 0.75, 0.0])


def test_epsilon_schedule_is_linear_then_flat() -> None:
    c = DQNConfig(eps_start=1.0, eps_end=0.05, eps_decay_steps=100)
    assert [epsilon_at(s, c) for s in (0, 50, 100, 1000)] == pytest.approx([1.0, 0.525, 0.05, 0.05])


# -- synthetic problems ----------------------------------------------------------------------------------

# Mean reward per (device class, action): the best action differs by device; action 0 is the control.
MEANS = np.array([[0.2, 0.8, 0.3, 0.1],
                  [0.2, 0.3, 0.8, 0.1],
                  [0.2, 0.1, 0.3, 0.8]])
VIEWPORTS = {"phone": 390, "tablet": 820, "desktop": 1440}


class DeviceBandit:
    """One page view per visitor; observable context with distractors (page, step, source); noisy reward."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.encoder = StateEncoder(PAGES, n_actions=MEANS.shape[1])

    def context(self) -> tuple[int, np.ndarray]:
        d = int(self.rng.integers(3))
        device = DEVICE_CLASSES[d]
        ctx = Context(device, VIEWPORTS[device] + int(self.rng.integers(-20, 21)), device != "desktop",
                      str(self.rng.choice(["direct", "search", "social"])), str(self.rng.choice(PAGES)),
                      step=int(self.rng.integers(5)))
        return d, self.encoder.encode(ctx)

    def reward(self, d: int, action: int) -> float:
        return float(MEANS[d, action] + self.rng.normal(0.0, 0.1))


def _run_bandit(agent: DQNAgent, env: DeviceBandit, steps: int) -> tuple[list[int], list[float]]:
    actions: list[int] = []
    losses: list[float] = []
    mask = np.ones(MEANS.shape[1], dtype=bool)
    for _ in range(steps):
        d, state = env.context()
        action, _ = agent.act(state, mask)
        loss = agent.observe(state, action, env.reward(d, action), state, True, None)
        actions.append(action)
        if loss is not None:
            losses.append(loss)
    return actions, losses


class ChainMDP:
    """Three pages in a row: 'next' (1) moves on, 'stop' (0) ends with 0.1, reaching the end pays 1.

    Action 2 exists only on the first page, so masks change along the way.
    """

    n_actions, dim = 3, 3

    def reset(self) -> tuple[np.ndarray, np.ndarray]:
        self.page = 0
        return self._obs()

    def _obs(self) -> tuple[np.ndarray, np.ndarray]:
        state = np.eye(self.dim, dtype=np.float32)[self.page]
        return state, np.array([True, True, self.page == 0])

    def step(self, action: int) -> tuple[np.ndarray, np.ndarray, float, bool]:
        if action == 0:
            state, mask = self._obs()
            return state, mask, 0.1, True
        self.page += 1
        state, mask = self._obs() if self.page < self.dim else (np.zeros(self.dim, np.float32), None)
        done = self.page == self.dim
        return state, mask, (1.0 if done else 0.0), done  # type: ignore[return-value]


def _run_chain(seed: int, steps: int = 300) -> tuple[list[int], list[float], list[float]]:
    config = DQNConfig(seed=seed, hidden=SMALL, learning_starts=32, train_every=1, target_update_every=20,
                       eps_decay_steps=200)
    agent = DQNAgent(ChainMDP.dim, ChainMDP.n_actions, config)
    env = ChainMDP()
    state, mask = env.reset()
    actions, probs, losses = [], [], []
    for _ in range(steps):
        action, p = agent.act(state, mask)
        next_state, next_mask, reward, done = env.step(action)
        loss = agent.observe(state, action, reward, next_state, done, next_mask)
        actions.append(action)
        probs.append(p)
        if loss is not None:
            losses.append(loss)
        state, mask = env.reset() if done else (next_state, next_mask)
    return actions, probs, losses


def test_same_seed_gives_identical_trajectory() -> None:
    first = _run_chain(seed=7)
    second = _run_chain(seed=7)
    assert first == second  # exact: actions, propensities and every loss
    assert len(first[2]) > 250  # it really trained
    assert _run_chain(seed=8) != first


def test_checkpoint_round_trip_continues_identically(tmp_path) -> None:
    config = DQNConfig(seed=3, hidden=SMALL, learning_starts=32, train_every=1, target_update_every=25,
                       eps_decay_steps=300)
    agent = DQNAgent(StateEncoder(PAGES, 4).dim, 4, config)
    _run_bandit(agent, DeviceBandit(seed=11), steps=150)
    path = tmp_path / "agent.pt"
    agent.save(path)
    loaded = DQNAgent.load(path)

    probe = DeviceBandit(seed=99)
    for _ in range(10):
        _, state = probe.context()
        assert np.array_equal(agent.q_values(state), loaded.q_values(state))
    assert loaded.counters == agent.counters and loaded.epsilon == agent.epsilon
    assert len(loaded.buffer) == len(agent.buffer)
    # Same environment stream → same actions, propensities and losses: RNGs, optimiser and buffer restored.
    assert _run_bandit(agent, DeviceBandit(seed=12), 100) == _run_bandit(loaded, DeviceBandit(seed=12), 100)
    for name, tensor in agent.q_network.state_dict().items():
        assert torch.equal(tensor, loaded.q_network.state_dict()[name])


def test_checkpoint_carries_its_metadata_and_an_old_sidecar_still_reads(tmp_path) -> None:
    agent = DQNAgent(4, 3, DQNConfig(hidden=(8,)))
    path = tmp_path / "agent.pt"
    agent.save(path, meta={"run_id": 7, "sessions_done": 12, "actions": ["control", "a", "b"]})
    loaded = load_checkpoint(path)
    assert loaded.meta == {"run_id": 7, "sessions_done": 12, "actions": ["control", "a", "b"]}
    assert np.array_equal(loaded.agent.q_values(np.zeros(4)), agent.q_values(np.zeros(4)))
    assert not (tmp_path / "agent.pt.json").exists()  # nothing beside it any more
    # A checkpoint from before the metadata moved inside: no "meta" key, the JSON sidecar beside it.
    old = tmp_path / "old.pt"
    torch.save(agent.state_dict(), old)
    assert load_checkpoint(old).meta == {}
    (tmp_path / "old.pt.json").write_text(json.dumps({"run_id": 3, "sessions_done": 5}))
    assert load_checkpoint(old).meta == {"run_id": 3, "sessions_done": 5}
    (tmp_path / "old.pt.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="unreadable checkpoint metadata"):
        load_checkpoint(old)


@pytest.mark.parametrize(("content", "message"), [
    (None, "no such checkpoint"),
    (b"not a checkpoint at all", "not a uiab checkpoint"),
    ({"version": 99}, "unsupported checkpoint version 99"),
    ({"version": 1, "config": {}}, "not a uiab checkpoint (KeyError"),
])
def test_a_bad_checkpoint_is_one_checkpoint_error(tmp_path, content: object, message: str) -> None:
    path = tmp_path / "bad.pt"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        torch.save(content, path)
    with pytest.raises(CheckpointError, match=message.replace("(", r"\(")) as caught:
        load_checkpoint(path, field="--resume", fix="pass a file --out wrote")
    error = caught.value
    assert isinstance(error, ValueError)  # an InputError: the CLI exits 2
    assert (error.source, error.field, error.fix) == (str(path), "--resume", "pass a file --out wrote")
    with pytest.raises(CheckpointError):
        DQNAgent.load(path)


def test_learns_the_best_action_per_device() -> None:
    # The seed's defaults as they are (256-128-64, dropout 0.2, Adam 1e-3, batch 32, learn every 10
    # actions, target sync every 100 updates, ε 1 → 0.05 over 1000 steps): 2000 visitors, 190 updates.
    config = DQNConfig(seed=0)
    env = DeviceBandit(seed=0)
    agent = DQNAgent(env.encoder.dim, MEANS.shape[1], config)
    _run_bandit(agent, env, steps=2000)

    # The greedy policy's exact value on fresh contexts (known means), against the per-device oracle.
    probe = DeviceBandit(seed=1)
    mask = np.ones(MEANS.shape[1], dtype=bool)
    value = oracle = 0.0
    for _ in range(300):
        d, state = probe.context()
        value += MEANS[d, agent.act(state, mask, greedy=True)[0]]
        oracle += MEANS[d].max()
    assert value >= 0.9 * oracle, f"greedy value {value / 300:.3f} vs oracle {oracle / 300:.3f}"
