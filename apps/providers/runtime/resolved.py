"""A model resolved for one call: provider, model, decrypted credentials, capabilities and price."""

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings

from apps.providers.catalog import ModelSpec
from apps.providers.runtime.entities import ModelMode, ModelType


@dataclass(frozen=True)
class Price:
    input: Decimal = Decimal("0")
    output: Decimal = Decimal("0")
    unit: Decimal = Decimal("0.000001")
    currency: str = "USD"


@dataclass(frozen=True)
class ResolvedModel:
    provider: str
    model: str
    model_type: ModelType
    spec: ModelSpec
    price: Price
    config: dict[str, Any] = field(default_factory=dict, repr=False)  # decrypted; never logged
    credential_version: str = ""  # pooled clients are keyed by it
    schema: str = ""

    @property
    def api_model(self) -> str:
        """The model name sent on the wire (an Azure deployment name, for Azure)."""
        if self.provider == "azure_openai":
            return str(self.config.get("deployment") or self.model)
        return self.model

    @property
    def is_completion_mode(self) -> bool:
        return self.spec.mode == ModelMode.COMPLETION

    @property
    def timeout(self) -> float:
        return float(self.config.get("timeout") or settings.PROVIDER_TIMEOUT)

    @property
    def max_retries(self) -> int:
        return int(settings.PROVIDER_MAX_RETRIES)
