"""The Code node's sandbox: run untrusted python3/javascript ``main()`` and check its outputs.

    from apps.workflows.sandbox import run_code, check_outputs, SandboxError, OutputValidationError

    result = run_code("python3", "def main(a: int) -> dict:\\n    return {'b': a + 1}", {"a": 1})
    outputs = check_outputs(result, {"b": {"type": "number", "children": None}})

``run_code`` runs locally in a locked-down child process (see runner.py and the README's threat
model), or on an external dify-sandbox service when CODE_EXECUTION_ENDPOINT is set. Every failure
is a SandboxError (``error_type`` CodeExecutionError) with a message for the user and a ``kind``;
``check_outputs`` raises OutputValidationError (``error_type`` OutputValidationError).
"""

from __future__ import annotations

from django.conf import settings

from . import local, remote
from .errors import CodeNodeError, OutputValidationError, SandboxError, SandboxUnavailable
from .limits import SandboxLimits
from .outputs import check_outputs

LANGUAGES = ("python3", "javascript")
MAX_CODE_LENGTH = 1024 * 1024

__all__ = [
    "LANGUAGES",
    "CodeNodeError",
    "OutputValidationError",
    "SandboxError",
    "SandboxLimits",
    "SandboxUnavailable",
    "check_outputs",
    "run_code",
]


def run_code(language: str, code: str, inputs: dict, *, limits: SandboxLimits | None = None) -> dict:
    """Run the code's ``main`` with ``inputs`` and return the dict it returned.

    python3 calls ``main(**inputs)``; javascript calls ``main(inputs)`` (and awaits a promise).
    Raises SandboxError (SandboxUnavailable when nothing could run). Blocks until the run ends:
    at most ``limits.timeout`` seconds plus start-up.
    """
    if language not in LANGUAGES:
        raise SandboxError(f"Unsupported code language {language!r}; use python3 or javascript.",
                           kind="invalid_code")
    if not isinstance(code, str) or not code.strip():
        raise SandboxError("The code is empty.", kind="invalid_code")
    if len(code) > MAX_CODE_LENGTH:
        raise SandboxError(f"The code is longer than {MAX_CODE_LENGTH} characters.", kind="invalid_code")
    if not isinstance(inputs, dict):
        raise SandboxError("The inputs must be a dict.", kind="invalid_input")
    limits = limits or SandboxLimits()
    if getattr(settings, "CODE_EXECUTION_ENDPOINT", ""):
        return remote.run(language, code, inputs, limits)
    return local.run(language, code, inputs, limits)
