"""The Code node's errors, named like Dify's node ``error_type`` values."""


class CodeNodeError(Exception):
    """Base of the Code node's failures; ``str(error)`` is the message shown to the user."""

    error_type = "CodeNodeError"

    def __init__(self, message: str, *, kind: str = "") -> None:
        super().__init__(message)
        self.message, self.kind = message, kind


class SandboxError(CodeNodeError):
    """The code could not run or failed while running (``error_type`` CodeExecutionError).

    ``kind`` says why, for callers and tests: ``runtime_error`` (the code raised), ``timeout``
    (wall clock), ``cpu`` (CPU time), ``memory``, ``output_too_large``, ``disk`` (the temporary
    directory grew too big), ``invalid_code`` (no ``main``, unknown language), ``invalid_input``,
    ``invalid_result`` (not a dict / not JSON), ``unavailable`` (the sandbox could not be set up or
    the external service failed), ``forbidden`` (killed by the system call filter), ``crashed``
    (the runtime died another way).
    """

    error_type = "CodeExecutionError"


class SandboxUnavailable(SandboxError):
    """The protections could not be applied (or the external service is down): nothing ran."""

    def __init__(self, message: str) -> None:
        super().__init__(message, kind="unavailable")


class OutputValidationError(CodeNodeError):
    """The dict returned by main() does not match the node's declared outputs (dsl.md §3.8)."""

    error_type = "OutputValidationError"

    def __init__(self, message: str) -> None:
        super().__init__(message, kind="output_validation")
