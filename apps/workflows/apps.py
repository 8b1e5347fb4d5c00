from django.apps import AppConfig


class WorkflowsConfig(AppConfig):
    name = "apps.workflows"
    label = "workflows"
    verbose_name = "Workflows"

    def ready(self) -> None:
        from apps.core.hotcache import clear_on_change
        from apps.workflows import models

        # The newest published workflow is cached per process: a deleted version must not linger.
        clear_on_change(deletes_only=(models.Workflow,))
