"""Run many ``uiab`` command lines in one process: the real app, its exit code, its stdout and stderr.

tests/test_bad_input_corpus.py starts this once for the whole corpus (a fresh interpreter per case would spend
2.5 s importing the harness each time). Usage: ``driver.py MANIFEST.json RESULTS.json``; each manifest entry has
``id``, ``argv``, ``cwd`` and ``env`` (added to the environment for that case only). Anything but a clean
``SystemExit`` is written to the case's stderr as the traceback it is.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import time
import traceback
from pathlib import Path


def run_case(app: object, case: dict[str, object]) -> dict[str, object]:
    stdout, stderr = io.StringIO(), io.StringIO()
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    os.environ.update({str(k): str(v) for k, v in dict(case["env"]).items()})  # type: ignore[arg-type]
    os.chdir(str(case["cwd"]))
    code: int | str = 0
    started = time.perf_counter()
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                app(args=list(case["argv"]), prog_name="uiab")  # type: ignore[operator, call-overload]
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            except BaseException:  # noqa: BLE001 - a traceback is exactly what the corpus looks for
                traceback.print_exc(file=stderr)
                code = "traceback"
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
    return {"id": case["id"], "code": code, "stdout": stdout.getvalue(), "stderr": stderr.getvalue(),
            "seconds": round(time.perf_counter() - started, 3)}


def main() -> None:
    manifest, results = Path(sys.argv[1]), Path(sys.argv[2])
    from harness.interfaces.cli import app

    cases = json.loads(manifest.read_text(encoding="utf-8"))
    out = [run_case(app, case) for case in cases]
    results.write_text(json.dumps(out, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
