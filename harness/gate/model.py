"""What a rollout reports: its options, each check ("expected …, found …") and the verdict with its exit code."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

__all__ = ["EXIT_CODES", "Check", "Level", "RolloutOptions", "RolloutReport", "Status", "Verdict", "rolls_back"]

Level = Literal["error", "warn"]
Status = Literal["pass", "fail", "skip"]
Verdict = Literal["promote", "rollback", "inconclusive"]
EXIT_CODES: dict[str, int] = {"promote": 0, "rollback": 1, "inconclusive": 3}


@dataclass
class Check:
    """One health or statistics check at one stage; a failed ``error`` check rolls back.

    ``data`` holds the numbers behind ``found`` (the primary check's ``pairs``), so nothing parses the prose.
    """

    stage: str
    name: str
    level: Level
    status: Status
    expected: str
    found: str
    page: str | None = None
    device: str | None = None
    persona: str | None = None
    screenshot: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return self.status == "fail"

    @property
    def message(self) -> str:
        persona = self.persona if self.persona and self.persona not in self.name else None
        where = ", ".join(x for x in (self.page, self.device, persona and f"persona {persona}") if x)
        head = f"[{self.stage}] {self.name}" + (f" ({where})" if where else "")
        return f"{head}: expected {self.expected}, found {self.found}"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "message": self.message}


def rolls_back(checks: Sequence[Check]) -> bool:
    """Whether any ``error`` check failed: the rollout stops and rolls back."""
    return any(c.failed and c.level == "error" for c in checks)


@dataclass(frozen=True)
class RolloutOptions:
    """Command-line choices layered over the experiment's ``[rollout]`` table."""

    candidate: str
    control: str | None = None
    stages: tuple[int, ...] | None = None
    sessions_per_stage: int | None = None
    seed: int | None = None
    report_dir: Path | None = None
    replay_of: int | None = None


@dataclass
class RolloutReport:
    """A finished rollout: the verdict, every check in order, and the stage timeline."""

    run_id: int
    experiment: str
    candidate: str
    control: str
    verdict: Verdict
    checks: list[Check]
    stages: list[dict[str, Any]]
    report_dir: Path
    seed: int
    replay_of: int | None = None

    @property
    def reasons(self) -> list[str]:
        """Every failed error check (rollback), or what held the verdict back."""
        errors = [c.message for c in self.checks if c.failed and c.level == "error"]
        if errors:
            return errors
        return [c.message for c in self.checks if c.name.startswith("primary.")][-1:]

    @property
    def warnings(self) -> list[str]:
        return [c.message for c in self.checks if c.failed and c.level == "warn"]

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.verdict]

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "experiment": self.experiment, "candidate": self.candidate,
                "control": self.control, "verdict": self.verdict, "exit_code": self.exit_code,
                "seed": self.seed, "replay_of": self.replay_of, "reasons": self.reasons,
                "warnings": self.warnings, "stages": self.stages, "checks": [c.to_dict() for c in self.checks]}
