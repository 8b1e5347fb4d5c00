"""Console forms of Knowledge: dataset settings, process rules for uploads, text documents,
segments and hit testing. They validate shapes; the services own the rules."""

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from apps.datasets.models import Dataset, MetadataField
from apps.providers import selectors as model_selectors
from apps.providers.runtime.entities import ModelType

SEARCH_METHODS = (
    ("semantic_search", _("Vector search")),
    ("full_text_search", _("Full-text search")),
    ("hybrid_search", _("Hybrid search")),
)
RERANK_STEPS = (
    ("weighted_score", _("Weighted score")),
    ("reranking_model", _("Rerank model")),
)
LANGUAGES = ("English", "Chinese", "Japanese", "Spanish", "French", "German", "Korean", "Portuguese")


def model_choices(model_type: str) -> list[tuple[str, str]]:
    """provider:model choices of the workspace's available models of one type."""
    return [(f"{m.provider}:{m.model}", f"{m.label} ({m.provider_label})")
            for m in model_selectors.available_models(model_type)]


class DatasetForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=40)
    description = forms.CharField(label=_("Description"), required=False, max_length=400,
                                  widget=forms.Textarea(attrs={"rows": 3}),
                                  help_text=_("Apps that choose among several knowledge bases read this. Left empty, it "
                                              "is written from the first documents by the default model."))
    permission = forms.ChoiceField(label=_("Visible to"), choices=Dataset.Permission.choices)
    indexing_technique = forms.ChoiceField(label=_("Indexing"), choices=Dataset.Technique.choices,
                                           initial=Dataset.Technique.HIGH_QUALITY,
                                           help_text=_("High quality embeds every segment; economy builds a "
                                                       "keyword index only and makes no model calls."))
    embedding_model = forms.ChoiceField(label=_("Embedding model"), required=False)
    search_method = forms.ChoiceField(label=_("Search"), choices=SEARCH_METHODS, initial="semantic_search")
    top_k = forms.IntegerField(label=_("Top K"), min_value=1, max_value=10, initial=3)
    score_threshold_enabled = forms.BooleanField(label=_("Use a score threshold"), required=False)
    score_threshold = forms.FloatField(label=_("Score threshold"), required=False, min_value=0, max_value=1,
                                       initial=0.5, help_text=_("Scores run from 0 to 1 in every search mode."))
    reranking_mode = forms.ChoiceField(
        label=_("Rerank step (hybrid)"), choices=RERANK_STEPS, initial="weighted_score", required=False,
        help_text=_("Hybrid search merges vector and full-text hits, then orders them by the weighted score "
                    "of both or by a rerank model."))
    rerank_model = forms.ChoiceField(label=_("Rerank model"), required=False)
    vector_weight = forms.FloatField(label=_("Vector weight (hybrid)"), min_value=0, max_value=1, initial=0.7)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["embedding_model"].choices = model_choices(ModelType.TEXT_EMBEDDING)
        self.fields["rerank_model"].choices = [("", _("None")), *model_choices(ModelType.RERANK)]

    @staticmethod
    def initial_for(dataset: Dataset) -> dict[str, Any]:
        rm = dataset.retrieval_model or {}
        rerank = rm.get("reranking_model") or {}
        weights = rm.get("weights") or {}
        return {
            "name": dataset.name, "description": dataset.description, "permission": dataset.permission,
            "indexing_technique": dataset.indexing_technique or Dataset.Technique.HIGH_QUALITY,
            "embedding_model": f"{dataset.embedding_model_provider}:{dataset.embedding_model}"
            if dataset.embedding_model else "",
            "search_method": rm.get("search_method") if rm.get("search_method") in dict(SEARCH_METHODS)
            else "semantic_search",
            "top_k": rm.get("top_k", 3), "score_threshold_enabled": rm.get("score_threshold_enabled", False),
            "score_threshold": rm.get("score_threshold") if rm.get("score_threshold") is not None else 0.5,
            "rerank_model": f"{rerank['reranking_provider_name']}:{rerank['reranking_model_name']}"
            if rerank.get("reranking_model_name") else "",
            "vector_weight": (weights.get("vector_setting") or {}).get("vector_weight", 0.7),
            "reranking_mode": rm.get("reranking_mode") or "weighted_score",
        }

    def clean(self) -> dict[str, Any]:
        """KN-13: hybrid search cannot be saved without its rerank step; a rerank model step needs
        the model."""
        data = super().clean()
        if data.get("search_method") == "hybrid_search" and not data.get("reranking_mode"):
            self.add_error("reranking_mode", _("Hybrid search needs a rerank step."))
        if data.get("search_method") == "hybrid_search" and data.get("reranking_mode") == "reranking_model" \
                and not data.get("rerank_model"):
            self.add_error("rerank_model", _("Hybrid search with a rerank model step needs a rerank model. "
                                             "Choose one, or use the weighted score."))
        return data

    def service_fields(self) -> dict[str, Any]:
        """The cleaned data as dataset_create / dataset_update keyword arguments."""
        data = self.cleaned_data
        provider, _sep, model = (data.get("embedding_model") or "").partition(":")
        rerank_provider, _sep, rerank_model = (data.get("rerank_model") or "").partition(":")
        method = data["search_method"]
        retrieval_model: dict[str, Any] = {
            "search_method": method, "top_k": data["top_k"],
            "score_threshold_enabled": data["score_threshold_enabled"],
            "score_threshold": data.get("score_threshold"),
            "reranking_enable": bool(rerank_model),
            "reranking_model": {"reranking_provider_name": rerank_provider, "reranking_model_name": rerank_model},
        }
        if method == "hybrid_search":
            vw = round(data["vector_weight"], 4)
            retrieval_model["reranking_mode"] = data["reranking_mode"]
            retrieval_model["weights"] = {"weight_type": "customized", "vector_setting": {"vector_weight": vw},
                                          "keyword_setting": {"keyword_weight": round(1 - vw, 4)}}
        return {"name": data["name"], "description": data["description"], "permission": data["permission"],
                "indexing_technique": data["indexing_technique"], "embedding_model_provider": provider,
                "embedding_model": model, "retrieval_model": retrieval_model}


class ProcessRuleForm(forms.Form):
    """How uploaded text becomes segments (ProcessRule of service-api.md §5.2)."""

    mode = forms.ChoiceField(label=_("Segmentation"), choices=(("automatic", _("Automatic")),
                                                               ("custom", _("Custom"))), initial="automatic")
    separator = forms.CharField(label=_("Separator"), required=False, initial="\\n\\n", strip=False,
                                help_text=_("Every separator ends a segment; \\n is a line break."))
    max_tokens = forms.IntegerField(label=_("Maximum segment length (tokens)"), min_value=50, max_value=4000,
                                    initial=500)
    chunk_overlap = forms.IntegerField(label=_("Overlap (tokens)"), min_value=0, max_value=3999, initial=50)
    remove_extra_spaces = forms.BooleanField(label=_("Replace consecutive spaces, newlines and tabs"),
                                             required=False, initial=True)
    remove_urls_emails = forms.BooleanField(label=_("Delete all URLs and email addresses"), required=False)
    doc_form = forms.ChoiceField(label=_("Segment as"), choices=(("text_model", _("Text segments")),
                                                                 ("qa_model", _("Question & answer pairs"))),
                                 initial="text_model")
    doc_language = forms.ChoiceField(label=_("Q&A language"), choices=[(x, x) for x in LANGUAGES],
                                     initial="English")

    def process_rule(self) -> dict[str, Any]:
        data = self.cleaned_data
        if data["mode"] == "automatic":
            return {"mode": "automatic"}
        return {"mode": "custom", "rules": {
            "pre_processing_rules": [{"id": "remove_extra_spaces", "enabled": data["remove_extra_spaces"]},
                                     {"id": "remove_urls_emails", "enabled": data["remove_urls_emails"]}],
            "segmentation": {"separator": data["separator"] or "\\n", "max_tokens": data["max_tokens"],
                             "chunk_overlap": data["chunk_overlap"] or 0}}}


class TextDocumentForm(forms.Form):
    name = forms.CharField(label=_("Document name"), max_length=255)
    text = forms.CharField(label=_("Text"), widget=forms.Textarea(attrs={"rows": 6}))


class SegmentForm(forms.Form):
    content = forms.CharField(label=_("Content"), widget=forms.Textarea(attrs={"rows": 5}), strip=False)
    answer = forms.CharField(label=_("Answer"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    keywords = forms.CharField(label=_("Keywords"), required=False, help_text=_("Separated by commas."))


class HitTestForm(forms.Form):
    query = forms.CharField(label=_("Query"), max_length=250, widget=forms.Textarea(attrs={"rows": 3}))
    search_method = forms.ChoiceField(label=_("Search"), choices=SEARCH_METHODS, required=False)


class MetadataFieldForm(forms.Form):
    name = forms.CharField(label=_("Field name"), max_length=64)
    type = forms.ChoiceField(label=_("Type"), choices=MetadataField.Type.choices)
