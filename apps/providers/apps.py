from django.apps import AppConfig


class ProvidersConfig(AppConfig):
    name = "apps.providers"
    label = "providers"
    verbose_name = "Model providers"

    def ready(self) -> None:
        from apps.core.hotcache import clear_on_change
        from apps.providers import models

        # Resolved models (decrypted credentials, prices) are cached per process for the hot path.
        clear_on_change(models.ProviderCredential, models.ModelPrice, models.DefaultModel)
