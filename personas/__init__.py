"""Synthetic personas: persona files (``model``), the typed view of the in-page snapshot (``snapshot``), and the
pure decision model (``decide``, built on ``laws``, ``perception`` and ``state``). It may import only
``agent.kernel`` of uiab; ``harness.run`` drives it in a browser.
"""

from __future__ import annotations

from personas.decide import Decision, Percept, PersonaState, decide, perceive
from personas.model import Persona, list_personas, load_persona
from personas.snapshot import SNAPSHOT_JS, SNAPSHOT_JSON_JS, Box, Candidate, PageSnapshot, TextBlock

__all__ = [
    "Persona",
    "load_persona",
    "list_personas",
    "SNAPSHOT_JS",
    "SNAPSHOT_JSON_JS",
    "PageSnapshot",
    "Candidate",
    "TextBlock",
    "Box",
    "Decision",
    "PersonaState",
    "Percept",
    "decide",
    "perceive",
]
