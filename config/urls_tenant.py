"""Console URLs inside one workspace, mounted at /console/<slug:ws>/ by config/urls_public.py.

The `ws` URL argument is consumed by apps.workspaces.middleware.WorkspaceMiddleware, which checks
membership and activates the workspace's schema; views never see it.
"""

from django.urls import path

from apps.applications import dsl_views, orchestrate
from apps.applications import views as studio
from apps.applications.webapp import console as webapp_console
from apps.providers import views as providers
from apps.workspaces import views as ws

urlpatterns = [
    path("", ws.home, name="home"),
    path("preparing/", ws.preparing, name="preparing"),
    path("apps/", studio.apps, name="apps"),
    path("apps/new/", studio.app_new, name="app_new"),
    path("apps/<uuid:app_id>/", studio.app_overview, name="app_overview"),
    path("apps/<uuid:app_id>/edit/", studio.app_edit, name="app_edit"),
    path("apps/<uuid:app_id>/duplicate/", studio.app_duplicate, name="app_duplicate"),
    path("apps/<uuid:app_id>/delete/", studio.app_delete, name="app_delete"),
    path("apps/<uuid:app_id>/access/", studio.app_access, name="app_access"),
    path("apps/<uuid:app_id>/api/", studio.app_api, name="app_api"),
    path("apps/<uuid:app_id>/api/keys/", studio.app_api_key_create, name="app_api_key_create"),
    path("apps/<uuid:app_id>/api/keys/<uuid:key_id>/revoke/", studio.app_api_key_revoke,
         name="app_api_key_revoke"),
    path("apps/<uuid:app_id>/logs/", studio.app_logs, name="app_logs"),
    path("apps/<uuid:app_id>/logs/<uuid:conversation_id>/", studio.app_log_detail, name="app_log_detail"),
    path("apps/<uuid:app_id>/logs/messages/<uuid:message_id>/feedback/", studio.app_log_feedback,
         name="app_log_feedback"),
    path("settings/", ws.settings_general, name="settings"),
    path("settings/members/", ws.members, name="members"),
    path("settings/members/<int:member_id>/role/", ws.member_role, name="member_role"),
    path("settings/members/<int:member_id>/remove/", ws.member_remove, name="member_remove"),
    path("settings/invitations/<uuid:invitation_id>/revoke/", ws.invitation_revoke, name="invitation_revoke"),
    path("settings/providers/", providers.providers, name="providers"),
    path("settings/providers/defaults/", providers.defaults, name="provider_defaults"),
    path("settings/providers/prices/", providers.prices, name="provider_prices"),
    path("settings/providers/<slug:provider>/new/", providers.credential_new, name="provider_new"),
    path("settings/providers/credentials/<uuid:credential_id>/edit/", providers.credential_edit,
         name="provider_credential_edit"),
    path("settings/providers/credentials/<uuid:credential_id>/delete/", providers.credential_delete,
         name="provider_credential_delete"),
]

# Studio → app → Orchestrate: prompt editor, publishing, debug & preview.
urlpatterns += [
    path("apps/<uuid:app_id>/orchestrate/", orchestrate.orchestrate, name="app_orchestrate"),
    path("apps/<uuid:app_id>/orchestrate/validate/", orchestrate.validate, name="app_orchestrate_validate"),
    path("apps/<uuid:app_id>/orchestrate/publish/", orchestrate.publish, name="app_orchestrate_publish"),
    path("apps/<uuid:app_id>/debug/chat/", orchestrate.debug_chat, name="app_debug_chat"),
    path("apps/<uuid:app_id>/debug/tasks/<uuid:task_id>/stop/", orchestrate.debug_stop, name="app_debug_stop"),
    path("apps/<uuid:app_id>/debug/files/", orchestrate.debug_upload, name="app_debug_upload"),
    path("apps/<uuid:app_id>/debug/speech-to-text/", orchestrate.debug_stt, name="app_debug_stt"),
    path("apps/<uuid:app_id>/debug/messages/<uuid:message_id>/speech/", orchestrate.debug_tts,
         name="app_debug_tts"),
    path("apps/<uuid:app_id>/debug/messages/<uuid:message_id>/suggested/", orchestrate.debug_suggested,
         name="app_debug_suggested"),
]

# Studio → app → WebApp: share link, site settings, new code.
urlpatterns += [
    path("apps/<uuid:app_id>/webapp/", webapp_console.app_webapp, name="app_webapp"),
    path("apps/<uuid:app_id>/webapp/regenerate/", webapp_console.app_webapp_regenerate,
         name="app_webapp_regenerate"),
]

# Workflow and chatflow apps: graph, draft JSON, test runs, history, publish (apps/workflows/views.py).
from apps.workflows import views as workflows  # noqa: E402

urlpatterns += [
    path("apps/<uuid:app_id>/workflow/", workflows.workflow_page, name="app_workflow"),
    path("apps/<uuid:app_id>/workflow/draft/", workflows.draft_json, name="app_workflow_draft"),
    path("apps/<uuid:app_id>/workflow/publish/", workflows.publish, name="app_workflow_publish"),
    path("apps/<uuid:app_id>/workflow/versions/<uuid:workflow_id>/", workflows.version_page,
         name="app_workflow_version"),
    path("apps/<uuid:app_id>/workflow/versions/<uuid:workflow_id>/restore/", workflows.restore,
         name="app_workflow_restore"),
    path("apps/<uuid:app_id>/workflow/run/", workflows.debug_run, name="app_workflow_run"),
    path("apps/<uuid:app_id>/workflow/tasks/<uuid:task_id>/stop/", workflows.debug_stop, name="app_workflow_stop"),
    path("apps/<uuid:app_id>/workflow/runs/<uuid:run_id>/", workflows.run_detail, name="app_workflow_run_detail"),
    path("apps/<uuid:app_id>/workflow/nodes/<str:node_id>/run/", workflows.step_run, name="app_workflow_step"),
    path("apps/<uuid:app_id>/workflow/conversations/<uuid:conversation_id>/variables/",
         workflows.preview_variables, name="app_workflow_preview_variables"),
    path("apps/<uuid:app_id>/workflow/logs/", workflows.run_log, name="app_workflow_logs"),
]

# App DSL: export an app as YAML, import a file as a new app.
urlpatterns += [
    path("apps/import/", dsl_views.app_import, name="app_import"),
    path("apps/<uuid:app_id>/export/", dsl_views.app_export, name="app_export"),
]

# Knowledge: datasets, their documents and segments, hit testing, settings.
from apps.datasets import api_page as knowledge_api  # noqa: E402
from apps.datasets import notion_views as notion_console  # noqa: E402
from apps.datasets import views as knowledge  # noqa: E402

_DS = "datasets/<uuid:dataset_id>/"
urlpatterns += [
    path("datasets/", knowledge.datasets, name="datasets"),
    path("datasets/new/", knowledge.dataset_new, name="dataset_new"),
    path("datasets/api/", knowledge_api.dataset_api, name="dataset_api"),
    path("datasets/api/keys/", knowledge_api.dataset_api_key_create, name="dataset_api_key_create"),
    path("datasets/api/keys/<uuid:key_id>/revoke/", knowledge_api.dataset_api_key_revoke,
         name="dataset_api_key_revoke"),
    path("datasets/api/<uuid:dataset_id>/access/", knowledge_api.dataset_api_access, name="dataset_api_access"),
    path(_DS + "documents/", knowledge.dataset_documents, name="dataset_documents"),
    path(_DS + "documents/preview/", knowledge.dataset_preview, name="dataset_preview"),
    path(_DS + "documents/upload/", knowledge.dataset_upload, name="dataset_upload"),
    path(_DS + "documents/<uuid:document_id>/", knowledge.dataset_document, name="dataset_document"),
    path(_DS + "documents/<uuid:document_id>/action/<slug:action>/", knowledge.dataset_document_action,
         name="dataset_document_action"),
    path(_DS + "documents/<uuid:document_id>/resegment/", knowledge.dataset_document_resegment,
         name="dataset_document_resegment"),
    path(_DS + "documents/<uuid:document_id>/metadata/", knowledge.dataset_document_metadata,
         name="dataset_document_metadata"),
    path(_DS + "documents/<uuid:document_id>/segments/add/", knowledge.dataset_segment_add,
         name="dataset_segment_add"),
    path(_DS + "segments/<uuid:segment_id>/edit/", knowledge.dataset_segment_edit, name="dataset_segment_edit"),
    path(_DS + "segments/<uuid:segment_id>/toggle/", knowledge.dataset_segment_toggle,
         name="dataset_segment_toggle"),
    path(_DS + "hit-testing/", knowledge.dataset_hit_testing, name="dataset_hit_testing"),
    path(_DS + "settings/", knowledge.dataset_settings, name="dataset_settings"),
    path(_DS + "settings/metadata/", knowledge.dataset_metadata_field, name="dataset_metadata_field"),
    path(_DS + "settings/metadata/<uuid:field_id>/delete/", knowledge.dataset_metadata_field_delete,
         name="dataset_metadata_field_delete"),
    path(_DS + "delete/", knowledge.dataset_delete, name="dataset_delete"),
    path(_DS + "documents/notion/", notion_console.notion_import, name="dataset_notion_import"),
    path(_DS + "documents/<uuid:document_id>/notion-sync/", notion_console.notion_sync,
         name="dataset_notion_sync"),
    path("settings/data-sources/", notion_console.data_sources, name="data_sources"),
    path("settings/data-sources/notion/connect/", notion_console.notion_oauth_start, name="notion_oauth_start"),
]

from apps.tools import views as tool_views  # noqa: E402

# Tools (TL-01): url names tool* mark the Tools navigation link active.
urlpatterns += [
    path("tools/", tool_views.tools, name="tools"),
    path("tools/builtin/<slug:provider>/authorise/", tool_views.builtin_authorise, name="tool_builtin_authorise"),
    path("tools/builtin/<slug:provider>/remove/", tool_views.builtin_remove, name="tool_builtin_remove"),
    path("tools/custom/new/", tool_views.custom_new, name="tool_custom_new"),
    path("tools/custom/<uuid:provider_id>/delete/", tool_views.custom_delete, name="tool_custom_delete"),
    path("tools/custom/<uuid:provider_id>/test/", tool_views.custom_test, name="tool_custom_test"),
    path("tools/mcp/new/", tool_views.mcp_new, name="tool_mcp_new"),
    path("tools/mcp/<uuid:server_id>/refresh/", tool_views.mcp_refresh, name="tool_mcp_refresh"),
    path("tools/mcp/<uuid:server_id>/delete/", tool_views.mcp_delete, name="tool_mcp_delete"),
    path("tools/workflow/new/", tool_views.workflow_new, name="tool_workflow_new"),
    path("tools/workflow/<uuid:provider_id>/delete/", tool_views.workflow_delete, name="tool_workflow_delete"),
    path("tools/mcp-apps/<uuid:app_id>/enable/", tool_views.app_mcp_enable, name="tool_app_mcp_enable"),
    path("tools/mcp-apps/<uuid:app_id>/disable/", tool_views.app_mcp_disable, name="tool_app_mcp_disable"),
]
