"""A workspace's model providers: encrypted credentials, default models per type, and prices."""

import uuid
from decimal import Decimal

from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.providers.catalog import PER_MILLION, PROVIDERS
from apps.providers.runtime.entities import ModelType

PROVIDER_CHOICES = [(spec.id, spec.label) for spec in PROVIDERS.values()]
MODEL_TYPE_CHOICES = [(t.value, t.value) for t in ModelType]


class ProviderCredential(models.Model):
    """Credentials for one provider, or for one model of a per-model provider (OpenAI-compatible,
    Azure deployments). `secret_config` holds every field, encrypted with the workspace's key;
    `public_config` repeats the non-secret ones for display and lookups."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    provider = models.CharField(max_length=32, choices=PROVIDER_CHOICES)
    label = models.CharField(max_length=120, blank=True)
    model = models.CharField(max_length=200, blank=True, help_text="per-model providers only")
    model_type = models.CharField(max_length=20, choices=MODEL_TYPE_CHOICES, blank=True)
    secret_config = models.TextField()
    public_config = models.JSONField(default=dict)
    created_by_id = models.BigIntegerField(null=True, blank=True)  # a public-schema user id
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    validated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["provider", "model"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "model", "model_type"], name="uniq_provider_model"),
        ]

    def __str__(self) -> str:
        return f"{self.provider}:{self.model or '*'}"

    @property
    def version(self) -> str:
        """Changes whenever the credentials change: pooled clients are keyed by it."""
        return f"{self.pk}:{self.updated_at.timestamp() if self.updated_at else 0}"


class DefaultModel(models.Model):
    """The workspace's system default model for one model type."""

    model_type = models.CharField(max_length=20, choices=MODEL_TYPE_CHOICES, unique=True)
    provider = models.CharField(max_length=32, choices=PROVIDER_CHOICES)
    model = models.CharField(max_length=200)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.model_type} → {self.provider}:{self.model}"


class ModelPrice(models.Model):
    """A workspace's price for a model, overriding the built-in catalog."""

    provider = models.CharField(max_length=32, choices=PROVIDER_CHOICES)
    model = models.CharField(max_length=200)
    input_price = models.DecimalField(_("input price"), max_digits=16, decimal_places=7, default=Decimal("0"))
    output_price = models.DecimalField(_("output price"), max_digits=16, decimal_places=7, default=Decimal("0"))
    price_unit = models.DecimalField(_("price unit"), max_digits=16, decimal_places=10, default=PER_MILLION)
    currency = models.CharField(max_length=3, default="USD")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["provider", "model"]
        constraints = [models.UniqueConstraint(fields=["provider", "model"], name="uniq_model_price")]

    def __str__(self) -> str:
        return f"{self.provider}:{self.model} {self.input_price}/{self.output_price} {self.currency}"
