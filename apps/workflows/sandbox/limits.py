"""Resource limits of one sandboxed run, defaulting to the CODE_EXECUTION_* settings."""

from dataclasses import asdict, dataclass, field

from django.conf import settings


def _setting(name: str, default: float) -> float:
    return getattr(settings, name, default)


@dataclass(frozen=True)
class SandboxLimits:
    """Limits for one run. ``SandboxLimits()`` reads the operator's settings."""

    timeout: float = field(default_factory=lambda: float(_setting("CODE_EXECUTION_TIMEOUT", 15.0)))
    cpu_seconds: int = field(default_factory=lambda: int(_setting("CODE_EXECUTION_CPU_SECONDS", 10)))
    memory_mb: int = field(default_factory=lambda: int(_setting("CODE_EXECUTION_MEMORY_MB", 512)))
    max_output_bytes: int = field(
        default_factory=lambda: int(_setting("CODE_EXECUTION_MAX_OUTPUT_BYTES", 4 * 1024 * 1024)))
    max_file_bytes: int = 8 * 1024 * 1024  # one file in the private temp dir
    workdir_bytes: int = 32 * 1024 * 1024  # the whole temp dir (a tmpfs as root, else watched)
    max_open_files: int = 64
    # HTTP requests through the relay (requests/httpx) in one run.
    max_requests: int = field(default_factory=lambda: int(_setting("CODE_EXECUTION_MAX_REQUESTS", 20)))

    def as_dict(self) -> dict:
        return asdict(self)
