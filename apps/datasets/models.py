"""Knowledge: datasets, their documents, the segments they are split into, metadata fields and the
hit-testing history.

Vectors: one `embedding` column of type `vector` with no fixed dimension, plus `embedding_dim`.
HNSW indexes need a fixed dimension, so each dimension gets its own partial expression index
`((embedding::vector(N)) vector_cosine_ops) WHERE embedding_dim = N` (see apps/datasets/vectors.py).
A query written the same way (`embedding::vector(N) <=> q ... WHERE embedding_dim = N`) is planned on
that index; tests/datasets/test_vectors.py checks the plan with EXPLAIN.

New vectors first land in a tail that is searched exactly (`vector_indexed` false) and join the
HNSW graph afterwards, in the background (apps/datasets/vectors.py, "The tail").
"""

import uuid

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.utils.translation import gettext_lazy as _
from pgvector.django import VectorField


def default_retrieval_model() -> dict:
    """The RetrievalModel of service-api.md §5.1 with Tessera's defaults (top_k 3, KN-12)."""
    return {
        "search_method": "semantic_search",
        "reranking_enable": False,
        "reranking_model": {"reranking_provider_name": "", "reranking_model_name": ""},
        "reranking_mode": None,
        "top_k": 3,
        "score_threshold_enabled": False,
        "score_threshold": None,
        "weights": None,
    }


class Dataset(models.Model):
    """A knowledge base: documents split into segments, indexed one way (high_quality or economy)."""

    class Permission(models.TextChoices):
        ONLY_ME = "only_me", _("Only me")
        ALL_TEAM = "all_team_members", _("All team members")

    class Technique(models.TextChoices):
        HIGH_QUALITY = "high_quality", _("High quality")
        ECONOMY = "economy", _("Economy")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(_("name"), max_length=40)
    description = models.TextField(_("description"), blank=True, max_length=400)
    permission = models.CharField(max_length=20, choices=Permission.choices, default=Permission.ONLY_ME)
    indexing_technique = models.CharField(max_length=20, choices=Technique.choices, null=True, blank=True)
    embedding_model_provider = models.CharField(max_length=64, blank=True)
    embedding_model = models.CharField(max_length=255, blank=True)
    embedding_dim = models.PositiveIntegerField(null=True, blank=True)  # known after the first embedding
    retrieval_model = models.JSONField(default=default_retrieval_model)
    process_rule = models.JSONField(default=dict, blank=True)  # the latest rule, reused when none is given
    doc_form = models.CharField(max_length=20, default="text_model")
    enable_api = models.BooleanField(default=True)
    built_in_field_enabled = models.BooleanField(default=False)
    created_by_id = models.BigIntegerField(null=True, blank=True)
    updated_by_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name


class Document(models.Model):
    """One source (an uploaded file or a text) of a dataset, and where its indexing stands."""

    class Status(models.TextChoices):
        WAITING = "waiting", _("Queued")
        PARSING = "parsing", _("Parsing")
        CLEANING = "cleaning", _("Cleaning")
        SPLITTING = "splitting", _("Splitting")
        INDEXING = "indexing", _("Indexing")
        COMPLETED = "completed", _("Completed")
        ERROR = "error", _("Error")
        PAUSED = "paused", _("Paused")

    RUNNING = (Status.WAITING, Status.PARSING, Status.CLEANING, Status.SPLITTING, Status.INDEXING)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="documents")
    position = models.PositiveIntegerField(default=1)
    name = models.CharField(max_length=255)
    data_source_type = models.CharField(max_length=32, default="upload_file")
    file = models.CharField(max_length=500, blank=True)  # path in default_storage
    file_size = models.PositiveBigIntegerField(default=0)
    extension = models.CharField(max_length=16, blank=True)
    created_from = models.CharField(max_length=16, default="web")  # web | api
    process_rule = models.JSONField(default=dict, blank=True)
    doc_form = models.CharField(max_length=20, default="text_model")  # text_model | qa_model
    doc_language = models.CharField(max_length=40, default="English")
    batch = models.CharField(max_length=32, db_index=True)
    indexing_status = models.CharField(max_length=16, choices=Status.choices, default=Status.WAITING)
    error = models.TextField(null=True, blank=True)
    enabled = models.BooleanField(default=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    archived = models.BooleanField(default=False)
    archived_at = models.DateTimeField(null=True, blank=True)
    word_count = models.PositiveIntegerField(default=0)
    tokens = models.PositiveIntegerField(default=0)
    completed_segments = models.PositiveIntegerField(default=0)
    total_segments = models.PositiveIntegerField(default=0)
    is_paused = models.BooleanField(default=False)  # asked to pause; the worker stops at the next batch
    processing_started_at = models.DateTimeField(null=True, blank=True)
    parsing_completed_at = models.DateTimeField(null=True, blank=True)
    cleaning_completed_at = models.DateTimeField(null=True, blank=True)
    splitting_completed_at = models.DateTimeField(null=True, blank=True)
    indexing_started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)  # {metadata field id: value}
    # Where a non-file document comes from, e.g. {"notion_page_id", "last_edited_time", "title"}
    # for data_source_type "notion_import" (apps/datasets/notion.py).
    data_source_info = models.JSONField(default=dict, blank=True)
    created_by_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-position"]

    def __str__(self) -> str:
        return self.name

    @property
    def display_status(self) -> str:
        """The API's display status (service-api.md §5.2)."""
        if self.archived:
            return "archived"
        if self.indexing_status == self.Status.PAUSED:
            return "paused"
        if self.indexing_status == self.Status.ERROR:
            return "error"
        if self.indexing_status == self.Status.WAITING:
            return "queuing"
        if self.indexing_status != self.Status.COMPLETED:
            return "indexing"
        return "available" if self.enabled else "disabled"

    @property
    def is_running(self) -> bool:
        return self.indexing_status in self.RUNNING

    @property
    def progress_percent(self) -> int:
        if self.indexing_status == self.Status.COMPLETED:
            return 100
        if not self.total_segments:
            return 0
        return min(100, round(100 * self.completed_segments / self.total_segments))


class Segment(models.Model):
    """A chunk of a document: what is embedded, keyword-indexed and retrieved.

    The id is derived from (document, position), so indexing a document again writes the same rows
    (an upsert) instead of adding duplicates; `index_node_hash` tells whether the content changed.
    """

    class Status(models.TextChoices):
        WAITING = "waiting", _("Waiting")
        INDEXING = "indexing", _("Indexing")
        COMPLETED = "completed", _("Completed")
        ERROR = "error", _("Error")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="segments")
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="segments")
    position = models.PositiveIntegerField()
    content = models.TextField()
    answer = models.TextField(blank=True)
    keywords = models.JSONField(default=list, blank=True)
    word_count = models.PositiveIntegerField(default=0)
    tokens = models.PositiveIntegerField(default=0)
    enabled = models.BooleanField(default=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.WAITING)
    index_node_id = models.CharField(max_length=64, blank=True)
    index_node_hash = models.CharField(max_length=64, blank=True)
    hit_count = models.PositiveIntegerField(default=0)
    embedding = VectorField(null=True, blank=True)  # no fixed dimension: see the module docstring
    embedding_dim = models.PositiveIntegerField(null=True, blank=True)
    # False: the vector is in the tail, searched exactly, not yet in its dimension's HNSW graph.
    vector_indexed = models.BooleanField(default=False)
    search_vector = SearchVectorField(null=True, blank=True)
    error = models.TextField(null=True, blank=True)
    created_by_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    indexing_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["position"]
        constraints = [models.UniqueConstraint(fields=["document", "position"], name="uniq_segment_position")]
        indexes = [
            GinIndex(fields=["search_vector"], name="segment_search_gin"),
            models.Index(fields=["dataset", "enabled"], name="segment_dataset_enabled"),
            models.Index(fields=["dataset"], name="segment_vector_tail",
                         condition=models.Q(embedding_dim__isnull=False, vector_indexed=False)),
        ]

    def __str__(self) -> str:
        return f"{self.document_id}#{self.position}"


class MetadataField(models.Model):
    """A document metadata field of a dataset (string, number or time), filterable in retrieval."""

    class Type(models.TextChoices):
        STRING = "string", _("Text")
        NUMBER = "number", _("Number")
        TIME = "time", _("Time")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="metadata_fields")
    name = models.CharField(max_length=64)
    type = models.CharField(max_length=8, choices=Type.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [models.UniqueConstraint(fields=["dataset", "name"], name="uniq_metadata_name")]

    def __str__(self) -> str:
        return self.name


class HitTestQuery(models.Model):
    """One retrieval run against a dataset (hit testing page, Knowledge API or an app): the history."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="queries")
    content = models.TextField()
    source = models.CharField(max_length=16, default="hit_testing")  # hit_testing | api | app
    retrieval_model = models.JSONField(default=dict)
    result_count = models.PositiveIntegerField(default=0)
    elapsed_ms = models.FloatField(default=0)
    created_by_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.content[:60]


class VectorUsage(models.Model):
    """Vector storage used by this workspace (one row per schema), kept current by the indexing
    services so that plans can limit it."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    segments = models.PositiveBigIntegerField(default=0)
    vectors = models.PositiveBigIntegerField(default=0)
    bytes = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.vectors} vectors, {self.bytes} bytes"


class DatasetApiKey(models.Model):
    """A Knowledge API key (`dataset-…`) of this workspace. Only its SHA-256 is stored (the public
    ApiKeyRoute maps the same hash to the workspace). A key is workspace-wide unless `limited`: then
    it reaches only `datasets` (least privilege; a limited key whose datasets were all deleted
    reaches none, it never widens to all)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    prefix = models.CharField(max_length=16)
    key_hash = models.CharField(max_length=64, unique=True)
    limited = models.BooleanField(default=False)
    datasets = models.ManyToManyField(Dataset, blank=True, related_name="api_keys")
    created_by_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}…"


class NotionConnection(models.Model):
    """The workspace's Notion internal integration (one row per schema): its token, encrypted with
    the workspace's key (apps/providers/crypto.py) like model provider credentials, and who Notion
    says the integration is."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    secret = models.TextField()  # crypto.encrypt(schema, {"token": ...})
    bot_name = models.CharField(max_length=255, blank=True)
    notion_workspace = models.CharField(max_length=255, blank=True)
    created_by_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.notion_workspace or self.bot_name or "Notion"
