from django.apps import AppConfig
from django.db.backends.signals import connection_created


class DatasetsConfig(AppConfig):
    name = "apps.datasets"
    label = "datasets"
    verbose_name = "Knowledge"

    def ready(self) -> None:
        # Framework plumbing: every connection searches HNSW indexes as broadly as configured, so a
        # retrieval query needs no transaction and SET LOCAL round trips of its own.
        connection_created.connect(_hnsw_search_breadth, dispatch_uid="tessera.hnsw_ef_search")


def _hnsw_search_breadth(sender: object, connection: object, **kwargs: object) -> None:
    from apps.datasets.vectors import EF_SEARCH

    if getattr(connection, "vendor", "") == "postgresql":
        with connection.cursor() as cursor:  # type: ignore[attr-defined]
            cursor.execute(f"SET hnsw.ef_search = {int(EF_SEARCH)}")
