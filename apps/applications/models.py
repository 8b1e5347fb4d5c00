"""Apps of a workspace: their configuration (draft and published versions) and API keys.

An app's configuration is the DSL's `model_config` dict (../shared/spec/dsl.md §4) kept as JSON, so
export and import are plain copies and the Service API's /parameters reads it directly.
"""

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _


class App(models.Model):
    """A chat, completion or agent app (workflow modes arrive with the workflows issue)."""

    class Mode(models.TextChoices):
        CHAT = "chat", _("Chatbot")
        COMPLETION = "completion", _("Text generator")
        AGENT_CHAT = "agent-chat", _("Agent")
        ADVANCED_CHAT = "advanced-chat", _("Chatflow")
        WORKFLOW = "workflow", _("Workflow")

    CHAT_MODES = (Mode.CHAT, Mode.AGENT_CHAT, Mode.ADVANCED_CHAT)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(_("name"), max_length=120)
    mode = models.CharField(max_length=20, choices=Mode.choices)
    description = models.TextField(_("description"), blank=True)
    icon = models.CharField(max_length=64, default="🤖")
    icon_background = models.CharField(max_length=16, default="#E4EEF9")
    status = models.CharField(max_length=16, default="normal")
    enable_api = models.BooleanField(default=True)
    enable_site = models.BooleanField(default=True)
    # Per-app limit on generations running at once (0: no limit); beyond it the API answers 429.
    max_active_requests = models.PositiveIntegerField(default=0)
    draft_config = models.JSONField(default=dict)
    published = models.ForeignKey("AppVersion", null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")
    created_by_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_chat(self) -> bool:
        return self.mode in self.CHAT_MODES

    @property
    def live_config(self) -> dict:
        """What the API and the WebApp run: the published version (the draft until first publish)."""
        return self.published.config if self.published_id else self.draft_config


class AppVersion(models.Model):
    """A published configuration; the newest one is live."""

    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    config = models.JSONField()
    note = models.CharField(max_length=255, blank=True)
    created_by_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-number"]
        constraints = [models.UniqueConstraint(fields=["app", "number"], name="uniq_app_version")]

    def __str__(self) -> str:
        return f"{self.app} v{self.number}"


class ApiKey(models.Model):
    """A Service API key of one app. Only its SHA-256 is stored; the prefix stays visible."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="api_keys")
    prefix = models.CharField(max_length=16)
    key_hash = models.CharField(max_length=64, unique=True)
    created_by_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.app})"


class UploadFile(models.Model):
    """A file an end user uploaded through the Service API (/v1/files/upload), kept in the default
    storage under the workspace's prefix until a message refers to it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="upload_files")
    key = models.CharField(max_length=255)  # the path in default_storage
    name = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField()
    extension = models.CharField(max_length=16)
    mime_type = models.CharField(max_length=255)
    created_by = models.ForeignKey("logs.EndUser", null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name


def new_site_code() -> str:
    """A share-link code: 16 URL-safe characters (96 random bits), unguessable."""
    import secrets

    return secrets.token_urlsafe(12)


class Site(models.Model):
    """The app's public WebApp (/chat/<code>, /completion/<code>) and chat widget: its share code,
    its look, and the abuse limits for anonymous end users. The public index
    apps.workspaces.models.SiteRoute mirrors `code` (services keep the two in step)."""

    class Language(models.TextChoices):
        EN = "en", "English"
        ZH_HANS = "zh-Hans", "简体中文"
        JA = "ja", "日本語"

    app = models.OneToOneField(App, on_delete=models.CASCADE, related_name="site")
    code = models.CharField(max_length=32, unique=True, default=new_site_code)
    title = models.CharField(_("title"), max_length=120)
    icon = models.CharField(max_length=64, default="🤖")
    icon_background = models.CharField(max_length=16, default="#E4EEF9")
    description = models.TextField(_("description"), blank=True)
    default_language = models.CharField(max_length=8, choices=Language.choices, default=Language.EN)
    privacy_policy = models.URLField(_("privacy policy"), max_length=500, blank=True)
    copyright = models.CharField(_("copyright"), max_length=255, blank=True)
    custom_disclaimer = models.TextField(_("custom disclaimer"), blank=True)
    show_prompt = models.BooleanField(default=False)
    # Origins (scheme://host[:port]) allowed to embed the WebApp or open the widget's WebSocket.
    allowed_origins = models.JSONField(default=list, blank=True)
    # Requests per minute (generation, audio, uploads) per end user and per IP address; 0: no limit.
    rate_limit_per_user = models.PositiveIntegerField(default=60)
    rate_limit_per_ip = models.PositiveIntegerField(default=300)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"site {self.code} of {self.app_id}"


class MessageFile(models.Model):
    """A file a message carries (service-api.md §2.21): an uploaded file (`local_file`) or a
    remote URL. /v1/files/{id}/preview serves an upload only once a message of the app uses it."""

    class TransferMethod(models.TextChoices):
        LOCAL_FILE = "local_file"
        REMOTE_URL = "remote_url"
        TOOL_FILE = "tool_file"  # made by an agent's tool; stored like an upload, belongs to the assistant

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    message = models.ForeignKey("logs.Message", on_delete=models.CASCADE, related_name="files")
    type = models.CharField(max_length=16, default="image")
    transfer_method = models.CharField(max_length=16, choices=TransferMethod.choices)
    upload_file = models.ForeignKey(UploadFile, null=True, blank=True, on_delete=models.CASCADE,
                                    related_name="message_files")
    url = models.URLField(max_length=2048, blank=True)  # remote_url only
    belongs_to = models.CharField(max_length=16, default="user")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.type} of {self.message_id}"
