"""Per-workspace logs: the activity trail, end users, conversations, messages and their feedback."""

import uuid

from django.db import models


class ActivityEvent(models.Model):
    """One thing someone did in a workspace (invited a member, renamed the workspace, ...)."""

    # A plain id, not a foreign key: users live in the public schema, and a cross-schema FK would
    # make deleting a user (or flushing the public tables) depend on every workspace schema.
    actor_id = models.BigIntegerField(null=True, blank=True)
    actor_email = models.EmailField(blank=True)
    verb = models.CharField(max_length=64)
    target = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.actor_email} {self.verb} {self.target}"


class EndUser(models.Model):
    """Someone using an app through the Service API (`user` argument) or a WebApp (browser id)."""

    class Type(models.TextChoices):
        SERVICE_API = "service-api", "service-api"
        BROWSER = "browser", "browser"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    app = models.ForeignKey("applications.App", on_delete=models.CASCADE, related_name="end_users")
    type = models.CharField(max_length=16, choices=Type.choices)
    session_id = models.CharField(max_length=255)
    is_anonymous = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["app", "type", "session_id"], name="uniq_end_user")]

    def __str__(self) -> str:
        return self.session_id


class Source(models.TextChoices):
    """Where a conversation comes from. Console debug runs are kept out of the Logs page (LOG-01)."""

    API = "api", "api"
    WEBAPP = "webapp", "webapp"
    DEBUGGER = "debugger", "debugger"


class Conversation(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    app = models.ForeignKey("applications.App", on_delete=models.CASCADE, related_name="conversations")
    end_user = models.ForeignKey(EndUser, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="conversations")
    from_source = models.CharField(max_length=16, choices=Source.choices)
    from_account_id = models.BigIntegerField(null=True, blank=True)  # console debugger
    mode = models.CharField(max_length=20)
    name = models.CharField(max_length=255, blank=True)
    inputs = models.JSONField(default=dict)  # the first turn's inputs
    status = models.CharField(max_length=16, default="normal")
    pinned = models.BooleanField(default=False)
    is_deleted = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]
        indexes = [models.Index(fields=["app", "from_source", "end_user", "is_deleted", "-updated_at"])]

    def __str__(self) -> str:
        return self.name or str(self.id)


class Message(models.Model):
    """One turn: the end user's query and the model's answer, with tokens, price and timing."""

    class Status(models.TextChoices):
        RUNNING = "running", "running"
        NORMAL = "normal", "normal"
        STOPPED = "stopped", "stopped"
        ERROR = "error", "error"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    app = models.ForeignKey("applications.App", on_delete=models.CASCADE, related_name="messages")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    end_user = models.ForeignKey(EndUser, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    from_source = models.CharField(max_length=16, choices=Source.choices)
    from_account_id = models.BigIntegerField(null=True, blank=True)
    task_id = models.UUIDField(default=uuid.uuid4, db_index=True)
    inputs = models.JSONField(default=dict)
    query = models.TextField(blank=True)
    answer = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    error = models.TextField(blank=True)
    model_provider = models.CharField(max_length=32, blank=True)
    model_name = models.CharField(max_length=200, blank=True)
    message_tokens = models.IntegerField(default=0)
    answer_tokens = models.IntegerField(default=0)
    total_price = models.DecimalField(max_digits=16, decimal_places=7, default=0)
    currency = models.CharField(max_length=3, default="USD")
    latency = models.FloatField(default=0.0)
    usage = models.JSONField(default=dict)
    prompt_log = models.JSONField(default=list)  # the exact messages sent to the model
    retriever_resources = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["conversation", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.query[:40]} → {self.answer[:40]}"


class MessageFeedback(models.Model):
    """A like or dislike on an answer, from the end user or from an operator in the console."""

    class Rating(models.TextChoices):
        LIKE = "like", "like"
        DISLIKE = "dislike", "dislike"

    class From(models.TextChoices):
        USER = "user", "user"
        ADMIN = "admin", "admin"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    app = models.ForeignKey("applications.App", on_delete=models.CASCADE, related_name="feedbacks")
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="feedbacks")
    rating = models.CharField(max_length=8, choices=Rating.choices)
    content = models.TextField(blank=True)
    from_source = models.CharField(max_length=8, choices=From.choices)
    end_user = models.ForeignKey(EndUser, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    from_account_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["message", "from_source"], name="uniq_feedback_per_source")]


class SavedMessage(models.Model):
    """A text-generation result an end user kept in the WebApp's Saved tab (WEB-08). Per end user:
    another browser never sees it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    app = models.ForeignKey("applications.App", on_delete=models.CASCADE, related_name="saved_messages")
    end_user = models.ForeignKey(EndUser, on_delete=models.CASCADE, related_name="saved_messages")
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="saved_by")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["end_user", "message"], name="uniq_saved_message")]
        indexes = [models.Index(fields=["app", "end_user", "-created_at"])]

    def __str__(self) -> str:
        return str(self.message_id)


class CompletionBatch(models.Model):
    """A WebApp batch run (WEB-09): the rows of one uploaded CSV, run by a Celery task with bounded
    concurrency. Belongs to the end user who uploaded it."""

    class Status(models.TextChoices):
        QUEUED = "queued", "queued"
        RUNNING = "running", "running"
        FINISHED = "finished", "finished"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    app = models.ForeignKey("applications.App", on_delete=models.CASCADE,
                            related_name="completion_batches")
    end_user = models.ForeignKey(EndUser, on_delete=models.CASCADE, related_name="completion_batches")
    file_name = models.CharField(max_length=255, blank=True)
    variables = models.JSONField(default=list)  # the column order of the upload, for the export
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.file_name or str(self.id)


class CompletionBatchRow(models.Model):
    """One CSV row of a batch: its inputs and, once run, the message it produced or its error."""

    class Status(models.TextChoices):
        PENDING = "pending", "pending"
        RUNNING = "running", "running"
        SUCCEEDED = "succeeded", "succeeded"
        FAILED = "failed", "failed"

    batch = models.ForeignKey(CompletionBatch, on_delete=models.CASCADE, related_name="rows")
    index = models.PositiveIntegerField()  # 1-based row number after the header
    inputs = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    answer = models.TextField(blank=True)
    error = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["index"]
        constraints = [models.UniqueConstraint(fields=["batch", "index"], name="uniq_batch_row")]

    def __str__(self) -> str:
        return f"{self.batch_id} #{self.index}"


class MessageAgentThought(models.Model):
    """One step of an agent's turn (service-api.md §2.12 `agent_thoughts`): what the model thought,
    the tools it called with their inputs, and what they returned. The final step has no tool and
    holds the answer as its thought."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="agent_thoughts")
    position = models.PositiveIntegerField()
    thought = models.TextField(blank=True)
    tool = models.TextField(blank=True)  # tool names joined by ";" (several calls in one step)
    tool_labels = models.JSONField(default=dict)
    tool_input = models.TextField(blank=True)  # JSON: {tool name: arguments}
    observation = models.TextField(blank=True)  # JSON: {tool name: output} when tools ran
    files = models.JSONField(default=list)  # ids of the MessageFiles the step's tools produced
    tokens = models.IntegerField(default=0)
    total_price = models.DecimalField(max_digits=16, decimal_places=7, default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position"]
        constraints = [models.UniqueConstraint(fields=["message", "position"], name="uniq_thought_position")]

    def __str__(self) -> str:
        return f"{self.message_id} #{self.position}"
