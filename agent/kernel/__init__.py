"""The kernel: what harness, agent and personas all need — the error tree, input reading, seed derivation.

It sits at the bottom of the import graph. It imports only the standard library, numpy and pydantic, never
another uiab module outside ``agent.kernel``; ``agent``, ``personas`` and ``harness`` may all import it. It lives
under ``agent/`` because the top-level layout is fixed at three packages, and ``agent`` is the one that
imports neither of the others; ``personas`` imports the kernel and nothing else of ``agent``.
"""

from agent.kernel.errors import (
    BrowserError,
    CheckpointError,
    InfrastructureError,
    InputError,
    PatchValidationError,
    PersonaError,
    SiteUnreachableError,
    UiabError,
)
from agent.kernel.inputs import error_from_validation, first_line, read_text, read_toml
from agent.kernel.seeds import derive_seed, uniform

__all__ = [
    "UiabError",
    "InputError",
    "PatchValidationError",
    "PersonaError",
    "CheckpointError",
    "InfrastructureError",
    "SiteUnreachableError",
    "BrowserError",
    "error_from_validation",
    "first_line",
    "read_text",
    "read_toml",
    "derive_seed",
    "uniform",
]
