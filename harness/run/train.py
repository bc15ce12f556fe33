"""``uiab train``: a policy learns from rewards measured in the browser; every decision is logged.

torch loads only when training runs (``agent.training`` and ``agent.dqn`` are imported inside the functions),
so importing ``harness.run`` stays light.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.context import StateEncoder
from agent.kernel import InputError
from agent.reward import RewardWeights
from harness.run.agent_runner import BrowserSessionRunner
from harness.run.experiment import load_experiment
from harness.run.simulate import stored_session_from
from harness.settings import Settings
from harness.store.database import Store, check_database

if TYPE_CHECKING:
    from agent.dqn import DQNAgent
    from agent.training import TrainResult

__all__ = ["TrainReport", "run_training"]

Progress = Callable[[int, float, float], None]  # (sessions done, session reward, running mean)


@dataclass
class TrainReport:
    run_id: int
    result: TrainResult
    checkpoint: Path | None
    curve: Path

    def to_dict(self) -> dict[str, Any]:
        summary = self.result.summary()
        return {"run_id": self.run_id, "sessions": summary["sessions"], "policy": summary["policy"],
                "mean_reward_last_10pct": summary["mean_reward_last_10pct"],
                "conversion_rate": summary["conversion_rate"],
                "checkpoint": str(self.checkpoint) if self.checkpoint else None,
                "learning_curve": str(self.curve), "alerts": summary["alerts"],
                "interrupted": summary["interrupted"]}


def _resume(path: Path) -> tuple[DQNAgent, int]:
    """The agent to continue and the sessions it has done (its visitors continue from there)."""
    from agent.dqn import load_checkpoint

    checkpoint = load_checkpoint(path, field="--resume", fix="pass a file --out wrote")
    done = checkpoint.meta.get("sessions_done", 0)
    if not isinstance(done, int) or done < 0:
        raise InputError(f"sessions_done must be a count, got {done!r}", source=str(path), field="--resume",
                         fix="pass a file --out wrote")
    return checkpoint.agent, done


def run_training(path: Path, settings: Settings, *, sessions: int, policy: str, seed: int, out: Path | None,
                 resume: Path | None, on_progress: Progress | None = None) -> TrainReport:
    """Train on the experiment's site; sessions, decisions and alerts are stored as they happen."""
    from agent.training import TrainConfig, learning_curve_png, train

    experiment = load_experiment(path)
    agent: DQNAgent | None = None
    first = 0
    if resume is not None:
        if policy != "dqn":
            raise InputError("--resume continues a DQN checkpoint", field="--policy", fix="use --policy dqn")
        agent, first = _resume(resume)
    weights = experiment.agent.reward
    config = TrainConfig(sessions=sessions, policy=policy, seed=seed, gamma=experiment.agent.gamma,
                         weights=RewardWeights(result=weights.result, user=weights.user, business=weights.business),
                         first_session=first, keep_records=False)
    check_database(settings.db)  # a foreign --db is refused before the browser starts
    # The runner (site, browser) first: an unreachable site or a missing page leaves no database file behind.
    with BrowserSessionRunner(path, settings, seed=seed) as runner, Store(settings.db) as store:
        encoder = StateEncoder(pages=runner.pages, n_actions=runner.n_actions)
        options = {"sessions": sessions, "policy": policy, "resume": str(resume) if resume else None,
                   "first_session": first, "actions": runner.n_actions, "gamma": config.gamma}
        with store.tracked_run("train", str(experiment.path), options, seed) as run_id:
            def on_session(index: int, reward: float, running: float, _losses: Any, alerts: Any,
                           records: Any) -> None:
                store.add_decisions(run_id, [r.to_dict() for r in records])
                for alert in alerts:
                    store.add_alert(run_id, alert.kind, alert.message, alert.value, alert.threshold,
                                    alert.at_session)
                while runner.finished:
                    store.add_session(run_id, stored_session_from(runner.finished.pop(0), variant=f"policy:{policy}"))
                if on_progress is not None:
                    on_progress(index - first + 1, reward, running)

            result = train(runner, encoder, runner.n_actions, config, agent=agent, on_session=on_session)
            folder = settings.report_dir / f"train-{run_id}"
            checkpoint = None
            if result.agent is not None:
                checkpoint = out or folder / "agent.pt"
                # The metadata travels inside the checkpoint (rollout candidates and --resume read it there).
                result.agent.save(checkpoint, meta={
                    "run_id": run_id, "sessions_done": first + result.sessions, "experiment": str(experiment.path),
                    "actions": list(runner.catalog.keys), "pages": list(runner.pages), "seed": seed})
            curve = learning_curve_png(result.session_rewards, folder / "learning-curve.png",
                                       f"uiab train {policy} on {experiment.name}")
            report = TrainReport(run_id, result, checkpoint, curve)
            store.finish_run(run_id, "interrupted" if result.interrupted else "completed", report.to_dict())
    if result.interrupted:
        raise KeyboardInterrupt
    return report
