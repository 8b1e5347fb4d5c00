from django.apps import AppConfig


class LogsConfig(AppConfig):
    name = "apps.logs"
    label = "logs"
    verbose_name = "Logs"

    def ready(self) -> None:
        from apps.core.hotcache import clear_on_change
        from apps.logs import models

        # End users are cached per process for the hot path; a new one changes nothing cached.
        clear_on_change(deletes_only=(models.EndUser,))
