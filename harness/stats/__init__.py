"""Pure statistics, no browser and no I/O: fixed-sample intervals (Wilson, Newcombe, Welch, paired t) and the
rollout gate's sample-ratio check, confidence sequences, decisions, guardrails, evidence floor and persona harm.
It may import only ``agent.kernel`` (besides numpy and scipy)."""

from harness.stats.gate import (
    MIN_CONVERSIONS,
    MIN_VISITORS,
    Decision,
    Evidence,
    GuardrailResult,
    PersonaHarm,
    PromoteIf,
    Verdict,
    final_verdict,
    minimum_evidence,
    noninferiority,
    persona_harm,
    require_evidence,
    sequential_decision,
)
from harness.stats.intervals import (
    CONFIDENCE,
    Z,
    newcombe_interval,
    paired_newcombe_interval,
    paired_t_interval,
    welch_interval,
    wilson_interval,
)
from harness.stats.sequences import DEFAULT_N_STAR, ConfidenceSequence, Interval, confidence_sequence, tuned_rho
from harness.stats.srm import SRM_ALPHA, SRM_MIN_PER_ARM, SrmResult, srm_check

__all__ = [
    # intervals
    "CONFIDENCE",
    "Z",
    "wilson_interval",
    "newcombe_interval",
    "paired_newcombe_interval",
    "paired_t_interval",
    "welch_interval",
    # sample-ratio mismatch
    "SRM_ALPHA",
    "SRM_MIN_PER_ARM",
    "SrmResult",
    "srm_check",
    # confidence sequences
    "DEFAULT_N_STAR",
    "Interval",
    "tuned_rho",
    "ConfidenceSequence",
    "confidence_sequence",
    # the gate's rules
    "Decision",
    "Verdict",
    "PromoteIf",
    "MIN_VISITORS",
    "MIN_CONVERSIONS",
    "sequential_decision",
    "final_verdict",
    "GuardrailResult",
    "noninferiority",
    "Evidence",
    "minimum_evidence",
    "require_evidence",
    "PersonaHarm",
    "persona_harm",
]
