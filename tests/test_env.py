"""The Gymnasium environment over a synthetic SessionRunner: check_env, seeding, masking, episode ends."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from synthetic_shop import SYNTHETIC_ACTIONS, SYNTHETIC_PAGES, SyntheticShopRunner

from agent.context import Context, StateEncoder
from agent.env import UIABEnv
from agent.kernel import InputError
from agent.reward import OUTCOME_KEYS, RewardWeights, reward_parts


def make_env(**kwargs: object) -> UIABEnv:
    runner = SyntheticShopRunner()
    return UIABEnv(runner, StateEncoder(runner.pages, runner.n_actions), **kwargs)  # type: ignore[arg-type]


def test_check_env_passes_without_warnings() -> None:
    env = make_env()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env, skip_render_check=True)
    assert [str(w.message) for w in caught] == []
    assert env.observation_space.shape == (env.encoder.dim,)
    assert env.action_space.n == len(SYNTHETIC_ACTIONS)


def _rollout(env: UIABEnv, seed: int, actions: list[int]) -> list[tuple]:
    obs, info = env.reset(seed=seed)
    trace: list[tuple] = [(obs.tolist(), info["visitor_seed"], info["action_mask"].tolist())]
    for action in actions:
        obs, reward, terminated, truncated, info = env.step(action)
        trace.append((obs.tolist(), reward, terminated, truncated, info["action"], info["outcome"]))
        if terminated or truncated:
            break
    return trace


def test_reset_with_a_seed_is_reproducible_across_envs() -> None:
    actions = [3, 2, 0]
    a = _rollout(make_env(), 11, actions)
    b = _rollout(make_env(), 11, actions)
    assert a == b
    # A different seed meets a different visitor (seeds drawn from the env's np_random).
    assert _rollout(make_env(), 12, actions)[0][1] != a[0][1]
    # reset() without a seed continues the seeded stream: reproducible as a sequence too.
    env1, env2 = make_env(), make_env()
    env1.reset(seed=5)
    env2.reset(seed=5)
    assert env1.reset()[1]["visitor_seed"] == env2.reset()[1]["visitor_seed"]


def test_reward_is_the_weighted_total_of_measured_parts() -> None:
    weights = RewardWeights(result=0.1, user=0.2, business=0.7)
    env = make_env(weights=weights)
    env.reset(seed=3)
    _, reward, _, _, info = env.step(0)
    assert set(OUTCOME_KEYS) <= set(info["outcome"])
    parts = reward_parts(info["outcome"], weights)
    assert reward == pytest.approx(parts.total)
    assert info["reward_parts"] == parts.to_dict()


def test_masked_action_is_applied_as_control_and_flagged() -> None:
    env = make_env()
    _, info = env.reset(seed=0)
    mask = info["action_mask"]
    assert mask.dtype == np.int8 and mask[0] == 1
    invalid = int(np.flatnonzero(mask == 0)[0])
    assert not env.action_masks()[invalid]
    _, _, _, _, step_info = env.step(invalid)
    assert step_info["masked_action"] is True
    assert step_info["requested_action"] == invalid and step_info["action"] == 0
    assert step_info["outcome"]["patch_applied"] is None  # the control: nothing was shown
    # A mask-aware sampler only draws allowed actions.
    env.reset(seed=0)
    env.action_space.seed(0)
    for _ in range(20):
        assert mask[env.action_space.sample(mask=mask)] == 1


def test_terminated_when_the_session_ends_and_step_after_it_fails() -> None:
    env = make_env()
    env.reset(seed=1)
    for _ in range(10):
        obs, _, terminated, truncated, info = env.step(0)
        assert not truncated
        if terminated:
            break
    assert terminated
    assert env.observation_space.contains(obs)
    assert info["action_mask"].tolist() == [1] + [0] * (env.action_space.n - 1)  # no next page: control only
    with pytest.raises(InputError, match="reset"):
        env.step(0)


def test_truncated_at_max_page_views_with_the_real_next_observation() -> None:
    env = make_env(max_page_views=1)
    for seed in range(50):
        env.reset(seed=seed)
        obs, _, terminated, truncated, info = env.step(0)
        if not terminated:
            break
    assert truncated and not terminated
    assert info["context"]["page"] == SYNTHETIC_PAGES[1]  # the page the visitor moved on to
    assert np.array_equal(obs, env.encoder.encode(Context(**info["context"])))
    with pytest.raises(InputError, match="reset"):
        env.step(0)
    env.reset(seed=0)  # a new visitor: the runner abandons the old one


def test_out_of_range_action_and_size_mismatch_are_errors() -> None:
    env = make_env()
    env.reset(seed=0)
    with pytest.raises(ValueError):
        env.step(env.action_space.n)
    runner = SyntheticShopRunner()
    with pytest.raises(ValueError, match="actions"):
        UIABEnv(runner, StateEncoder(runner.pages, runner.n_actions + 1))


def test_close_closes_the_runner_only_when_owned() -> None:
    env = make_env()
    env.close()
    assert not env.runner.closed  # type: ignore[attr-defined]
    env.reset(seed=0)
    owned = make_env(close_runner=True)
    owned.close()
    owned.close()  # twice is fine
    assert owned.runner.closed  # type: ignore[attr-defined]


def test_synthetic_runner_is_seeded_and_masks_absent_slots() -> None:
    runner = SyntheticShopRunner()
    first = runner.start(42)
    again = SyntheticShopRunner().start(42)
    assert first == again
    assert first.context.page == "/index.html" and first.context.step == 0
    mask = runner.mask(first)
    assert mask[0] and mask[SYNTHETIC_ACTIONS.index("headline.copy")]
    assert not mask[SYNTHETIC_ACTIONS.index("sale_banner.hide")]  # its slot is on no page
    # A patch whose slot is absent applies nothing: a failed action, measured as such.
    result = runner.step(SYNTHETIC_ACTIONS.index("cta.sticky"))
    assert result.outcome["patch_applied"] is False
