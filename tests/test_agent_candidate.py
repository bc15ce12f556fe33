"""A checkpoint as a rollout candidate: the greedy policy's most chosen patch, written as a patch file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from agent.best_patch import best_static_action
from agent.dqn import DQNAgent, DQNConfig
from agent.kernel import CheckpointError, InputError
from agent.patch import load_patch, patch_from_mapping, patch_to_toml
from harness.gate.agent_candidate import agent_candidate
from harness.gate.rollout import resolve_candidate
from harness.run.experiment import load_experiment
from harness.store.database import Store

KETTLE = Path(__file__).resolve().parent / "pages" / "rollout" / "experiment.toml"


def _agent_preferring(n_actions: int, state_dim: int, values: list[float]) -> DQNAgent:
    """Q(s, ·) = values for every state: weights 0, the head's bias the values."""
    agent = DQNAgent(state_dim=state_dim, n_actions=n_actions, config=DQNConfig(hidden=(4,)))
    with torch.no_grad():
        for p in agent.q_network.parameters():
            p.zero_()
        agent.q_network.net[-1].bias.copy_(torch.tensor(values))
    return agent


def _records(offered: list[list[int]], dim: int = 3) -> list[dict[str, object]]:
    return [{"context_vec": [0.0] * dim, "actions_offered": o, "action": o[0]} for o in offered]


def test_best_static_action_is_the_most_chosen_patch_and_share_counts_only_where_offered() -> None:
    agent = _agent_preferring(4, 3, [0.0, 1.0, 3.0, 2.0])
    # Action 2 is best wherever offered (2 of 5 page views); elsewhere 3, then 1.
    choice = best_static_action(agent, _records([[0, 1, 2, 3], [0, 1, 2], [0, 1, 3], [0, 1, 3], [0, 1, 3]]))
    assert choice.counts == {2: 2, 3: 3}
    assert choice.action == 3 and choice.share == pytest.approx(3 / 4) and choice.page_views == 5


def test_when_greedy_prefers_control_the_most_valued_patch_is_the_candidate() -> None:
    agent = _agent_preferring(4, 3, [5.0, 1.0, 2.0, 4.0])
    # Greedy picks the control everywhere; action 3 is valued most but offered once; 2 beats 1 on average.
    choice = best_static_action(agent, _records([[0, 1, 2], [0, 2], [0, 3]]))
    assert choice.prefers_control and choice.action == 3 and choice.share == 0.0 and choice.counts == {0: 3}
    only_control = best_static_action(agent, _records([[0], [0]]))
    assert only_control.action == 0 and only_control.prefers_control
    with pytest.raises(ValueError):
        best_static_action(agent, [])


def test_patch_to_toml_round_trips_css_ops_and_awkward_text(tmp_path: Path) -> None:
    patch = patch_from_mapping({
        "name": "odd-one", "css": "#buy { font-size: 20px }\n#buy:hover { color: #ffffff }",
        "ops": [{"op": "set_text", "selector": "#buy", "text": 'Buy "now" \\ — 48 €\tok'},
                {"op": "move_before", "selector": "#buy", "target": "h1"}],
    })
    path = tmp_path / "odd-one.toml"
    path.write_text(patch_to_toml(patch))
    again = load_patch(path)
    assert again == patch and again.digest == patch.digest


def _trained_kettle(tmp_path: Path, prefer: str) -> tuple[Path, Path, int]:
    """A checkpoint whose greedy choice is ``prefer``, its metadata, and a train run's decisions in a database."""
    experiment = load_experiment(KETTLE)
    keys = experiment.action_catalog().keys
    values = [0.0] * len(keys)
    values[keys.index(prefer)] = 1.0
    agent = _agent_preferring(len(keys), 5, values)
    db = tmp_path / "u.db"
    with Store(db) as store:
        run_id = store.start_run("train", str(KETTLE), {}, 1)
        store.add_decisions(run_id, [{"event_id": f"e{i}", "policy": "dqn", "context": {}, "context_vec": [0.0] * 5,
                                      "actions_offered": list(range(len(keys))), "action": 0, "probability": 1.0}
                                     for i in range(4)])
    checkpoint = tmp_path / "agent.pt"
    agent.save(checkpoint, meta={"run_id": run_id, "actions": keys})
    return checkpoint, db, run_id


def test_checkpoint_candidate_writes_the_chosen_actions_patch(tmp_path: Path) -> None:
    experiment = load_experiment(KETTLE)
    prefer = next(a for a in experiment.action_catalog() if a.kind == "element")
    checkpoint, db, run_id = _trained_kettle(tmp_path, prefer.key)
    candidate = agent_candidate(experiment, checkpoint, db, tmp_path / "out")
    assert candidate.action.key == prefer.key and candidate.train_run == run_id and candidate.choice.share == 1.0
    written = load_patch(Path(candidate.variant.patch or ""))
    assert written.css == prefer.patch.css and written.ops == prefer.patch.ops
    variant = resolve_candidate(experiment, str(checkpoint), db=db, out_dir=tmp_path / "out")
    assert variant.name == candidate.variant.name


def test_checkpoint_candidate_bad_input_names_the_fix(tmp_path: Path) -> None:
    experiment = load_experiment(KETTLE)
    with pytest.raises(InputError, match="no such checkpoint"):
        agent_candidate(experiment, tmp_path / "missing.pt", tmp_path / "u.db", tmp_path)
    checkpoint, _db, _ = _trained_kettle(tmp_path, "control")
    with pytest.raises(InputError, match="has no decisions") as info:
        agent_candidate(experiment, checkpoint, tmp_path / "empty.db", tmp_path)
    assert info.value.field == "--db"
    # A checkpoint without metadata (an older uiab's, its AGENT.pt.json lost) names no training run.
    torch.save(torch.load(checkpoint, weights_only=True) | {"meta": {}}, checkpoint)
    with pytest.raises(InputError, match="does not name its training run"):
        agent_candidate(experiment, checkpoint, tmp_path / "u.db", tmp_path)
    with pytest.raises(CheckpointError, match="not a uiab checkpoint") as info:
        agent_candidate(experiment, _write(tmp_path / "junk.pt", b"junk"), tmp_path / "u.db", tmp_path)
    assert info.value.field == "--candidate"


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_an_old_checkpoint_with_its_sidecar_is_still_a_candidate(tmp_path: Path) -> None:
    experiment = load_experiment(KETTLE)
    prefer = next(a for a in experiment.action_catalog() if a.kind == "element")
    checkpoint, db, run_id = _trained_kettle(tmp_path, prefer.key)
    state = torch.load(checkpoint, weights_only=True)
    checkpoint.with_name("agent.pt.json").write_text(json.dumps(state.pop("meta")))
    torch.save(state, checkpoint)  # as uiab wrote checkpoints before the metadata moved inside
    candidate = agent_candidate(experiment, checkpoint, db, tmp_path / "out")
    assert candidate.action.key == prefer.key and candidate.train_run == run_id
