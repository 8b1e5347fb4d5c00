from django.apps import AppConfig


class ApplicationsConfig(AppConfig):
    name = "apps.applications"
    label = "applications"
    verbose_name = "Apps"

    def ready(self) -> None:
        from apps.applications import models
        from apps.core.hotcache import clear_on_change

        # The Service API keeps keys' apps in a per-process cache; changes here must reach it.
        clear_on_change(models.App, models.AppVersion, models.ApiKey)
