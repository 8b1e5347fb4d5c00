"""Workflow and Chatflow apps: their graphs (a draft and published versions), runs and node executions.

The graph is the DSL's `workflow` section (../shared/spec/dsl.md §2) kept as JSON, so export and
import are plain copies. Secret environment variables are stored encrypted with the workspace's
key (apps.providers.crypto); everything else is stored as the DSL has it.
"""

import uuid

from django.db import models

DRAFT = "draft"


class Workflow(models.Model):
    """One version of an app's graph: `draft` (edited) or a published version (a timestamp string,
    like Dify's). The Service API runs the newest published one, or a given one by id."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    app = models.ForeignKey("applications.App", on_delete=models.CASCADE, related_name="workflows")
    version = models.CharField(max_length=64, default=DRAFT)
    graph = models.JSONField(default=dict)
    features = models.JSONField(default=dict)
    # [{id, name, value_type, value, description, selector}]; secret values hold a ciphertext.
    environment_variables = models.JSONField(default=list)
    conversation_variables = models.JSONField(default=list)
    marked_name = models.CharField(max_length=255, blank=True)
    created_by_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["app", "version"], name="uniq_workflow_version")]

    def __str__(self) -> str:
        return f"{self.app_id} {self.version}"

    @property
    def is_draft(self) -> bool:
        return self.version == DRAFT


class WorkflowRun(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running", "running"
        SUCCEEDED = "succeeded", "succeeded"
        FAILED = "failed", "failed"
        STOPPED = "stopped", "stopped"
        PARTIAL = "partial-succeeded", "partial-succeeded"

    class TriggeredFrom(models.TextChoices):
        DEBUGGING = "debugging", "debugging"
        APP_RUN = "app-run", "app-run"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    app = models.ForeignKey("applications.App", on_delete=models.CASCADE, related_name="workflow_runs")
    workflow = models.ForeignKey(Workflow, null=True, on_delete=models.SET_NULL, related_name="runs")
    workflow_version = models.CharField(max_length=64)
    mode = models.CharField(max_length=20)  # workflow | advanced-chat
    task_id = models.UUIDField(default=uuid.uuid4, db_index=True)
    triggered_from = models.CharField(max_length=16, choices=TriggeredFrom.choices)
    created_from = models.CharField(max_length=16, default="service-api")  # service-api | web-app | debugger
    inputs = models.JSONField(default=dict)
    outputs = models.JSONField(default=dict)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RUNNING)
    error = models.TextField(null=True, blank=True)
    elapsed_time = models.FloatField(default=0.0)
    total_tokens = models.IntegerField(default=0)
    total_price = models.DecimalField(max_digits=16, decimal_places=7, default=0)
    currency = models.CharField(max_length=3, default="USD")
    total_steps = models.IntegerField(default=0)
    exceptions_count = models.IntegerField(default=0)
    created_by_account_id = models.BigIntegerField(null=True, blank=True)
    created_by_end_user = models.ForeignKey("logs.EndUser", null=True, blank=True, on_delete=models.SET_NULL,
                                            related_name="+")
    conversation = models.ForeignKey("logs.Conversation", null=True, blank=True, on_delete=models.CASCADE,
                                     related_name="+")
    message = models.ForeignKey("logs.Message", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["app", "triggered_from", "-created_at"])]

    def __str__(self) -> str:
        return f"run {self.pk} ({self.status})"


class WorkflowNodeExecution(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running", "running"
        SUCCEEDED = "succeeded", "succeeded"
        FAILED = "failed", "failed"
        EXCEPTION = "exception", "exception"  # failed, but handled by the node's error strategy
        STOPPED = "stopped", "stopped"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    run = models.ForeignKey(WorkflowRun, on_delete=models.CASCADE, related_name="node_executions")
    app = models.ForeignKey("applications.App", on_delete=models.CASCADE, related_name="+")
    index = models.IntegerField()
    predecessor_node_id = models.CharField(max_length=255, null=True, blank=True)
    node_id = models.CharField(max_length=255)
    node_type = models.CharField(max_length=64)
    title = models.CharField(max_length=255)
    inputs = models.JSONField(null=True)
    process_data = models.JSONField(null=True)
    outputs = models.JSONField(null=True)
    status = models.CharField(max_length=16, choices=Status.choices)
    error = models.TextField(null=True, blank=True)
    elapsed_time = models.FloatField(default=0.0)
    total_tokens = models.IntegerField(default=0)
    total_price = models.DecimalField(max_digits=16, decimal_places=7, default=0)
    execution_metadata = models.JSONField(null=True)
    created_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["index"]
        indexes = [models.Index(fields=["run", "index"])]

    def __str__(self) -> str:
        return f"{self.node_type} {self.title} ({self.status})"


class ConversationVariable(models.Model):
    """A chatflow conversation variable's value in one conversation (dsl.md §3.11)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    app = models.ForeignKey("applications.App", on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey("logs.Conversation", on_delete=models.CASCADE,
                                     related_name="workflow_variables")
    variable_id = models.CharField(max_length=64)
    name = models.CharField(max_length=255)
    value_type = models.CharField(max_length=32)
    value = models.JSONField(null=True)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [models.UniqueConstraint(fields=["conversation", "name"], name="uniq_conversation_var")]

    def __str__(self) -> str:
        return f"{self.name} ({self.conversation_id})"
