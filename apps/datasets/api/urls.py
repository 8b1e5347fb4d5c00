"""Knowledge API routes under /v1 (service-api.md §5). Like the reference, routes named with
`_` also answer with `-` (create_by_text and create-by-text), and `segment` with `segments`."""

from django.urls import path

from apps.datasets.api import views as v

_D = "datasets/<uuid:dataset_id>/"
_DOC = _D + "documents/<uuid:document_id>/"


def _both(route: str, view, name: str) -> list:  # type: ignore[no-untyped-def]
    """The route with `_` and with `-` (one name, so reverse() gives the documented spelling)."""
    routes = [path(route, view, name=name)]
    head, _, tail = route.rpartition("/")
    if "_" in tail:
        routes.append(path(f"{head}/{tail.replace('_', '-')}", view))
    return routes


urlpatterns = [
    path("datasets", v.DatasetListView.as_view(), name="kapi_datasets"),
    path(_D[:-1], v.DatasetDetailView.as_view(), name="kapi_dataset"),
    path(_D + "documents/status/<str:action>", v.DocumentStatusView.as_view(), name="kapi_document_status"),
    *_both(_D + "document/create_by_text", v.DocumentCreateByTextView.as_view(), "kapi_create_by_text"),
    *_both(_D + "document/create_by_file", v.DocumentCreateByFileView.as_view(), "kapi_create_by_file"),
    *_both(_DOC + "update_by_text", v.DocumentUpdateByTextView.as_view(), "kapi_update_by_text"),
    *_both(_DOC + "update_by_file", v.DocumentUpdateByFileView.as_view(), "kapi_update_by_file"),
    path(_D + "documents", v.DocumentListView.as_view(), name="kapi_documents"),
    path(_D + "documents/metadata", v.DocumentMetadataView.as_view(), name="kapi_documents_metadata"),
    path(
        _D + "documents/<str:batch>/indexing-status",
        v.IndexingStatusView.as_view(),
        name="kapi_indexing_status",
    ),
    path(_DOC[:-1], v.DocumentDetailView.as_view(), name="kapi_document"),
    path(_DOC + "segments", v.SegmentListView.as_view(), name="kapi_segments"),
    path(_DOC + "segment", v.SegmentListView.as_view()),
    path(_DOC + "segments/<uuid:segment_id>", v.SegmentDetailView.as_view(), name="kapi_segment"),
    path(_D + "retrieve", v.RetrieveView.as_view(), name="kapi_retrieve"),
    path(_D + "hit-testing", v.RetrieveView.as_view()),
    path(_D + "metadata", v.MetadataListView.as_view(), name="kapi_metadata"),
    path(_D + "metadata/built-in", v.BuiltInFieldsView.as_view(), name="kapi_metadata_built_in"),
    path(
        _D + "metadata/built-in/<str:action>",
        v.BuiltInToggleView.as_view(),
        name="kapi_metadata_built_in_toggle",
    ),
    path(_D + "metadata/<uuid:metadata_id>", v.MetadataDetailView.as_view(), name="kapi_metadata_field"),
]
