"""The Knowledge API's part of the /v1 OpenAPI document (apps.core.openapi merges it): every route
of apps/datasets/api/urls.py, with the objects of apps/datasets/api/shapes.py (service-api.md §5).
Routes the reference spells two ways (create_by_text and create-by-text, segments and segment,
retrieve and hit-testing) are described under both paths."""

import functools
from typing import Any

from django.conf import settings

from apps.core import openapi
from apps.core.openapi import (
    BOOLEAN,
    INTEGER,
    NUMBER,
    OBJECT,
    STRING,
    TIMESTAMP,
    UUID,
    Schema,
    add,
    array,
    enum,
    json_body,
    merge_errors,
    multipart_body,
    nullable,
    obj,
    ok,
    path_param,
    query_param,
    ref,
)
from apps.datasets import retrieval
from apps.datasets.pipeline import rules

SECURITY = [{"DatasetKey": []}]
AUTH = {401: ["unauthorized"]}
# A route with {dataset_id}: the key must reach the dataset, whose API access must be on.
DATASET = {403: ["forbidden"], 404: ["not_found"]}
BAD = {400: ["invalid_param"]}
MODEL = {
    400: [
        "provider_not_initialize",
        "provider_quota_exceeded",
        "model_currently_not_support",
        "completion_request_error",
    ]
}

DOC_FORMS = ("text_model", "hierarchical_model", "qa_model")
INDEXING = ("waiting", "parsing", "cleaning", "splitting", "indexing", "completed", "error", "paused")
DISPLAY = ("queuing", "indexing", "paused", "error", "available", "disabled", "archived")
TECHNIQUES = ("high_quality", "economy")
PERMISSIONS = ("only_me", "all_team_members", "partial_members")
METADATA_TYPES = ("string", "number", "time")

DELETED = {
    "description": "Deleted. Like the reference, HTTP 200 with the body `204` (service-api.md §6).",
    "content": {"application/json": {"schema": {"const": 204}}},
}

NAME: Schema = {"type": "string", "pattern": "\\S"}  # not blank
RETRIEVAL: dict[str, Schema] = {
    "search_method": enum(*retrieval.SEARCH_METHODS),
    "reranking_enable": BOOLEAN,
    "reranking_model": obj({"reranking_provider_name": STRING, "reranking_model_name": STRING}),
    "reranking_mode": nullable(enum(*retrieval.RERANK_MODES)),
    "top_k": INTEGER,
    "score_threshold_enabled": BOOLEAN,
    "score_threshold": nullable(NUMBER),
    "weights": nullable(
        obj(
            {
                "weight_type": enum("semantic_first", "keyword_first", "customized"),
                "vector_setting": obj(
                    {
                        "vector_weight": NUMBER,
                        "embedding_provider_name": STRING,
                        "embedding_model_name": STRING,
                    },
                    required=["vector_weight"],
                ),
                "keyword_setting": obj({"keyword_weight": NUMBER}),
            },
            required=[],
        )
    ),
}

SCHEMAS: dict[str, Schema] = {
    "RetrievalModel": obj(
        RETRIEVAL,
        required=["search_method", "top_k", "score_threshold_enabled"],
        description="How a dataset is searched (§5.1).",
    ),
    "RetrievalModelInput": {
        **obj(
            {
                **RETRIEVAL,
                "top_k": {"type": "integer", "minimum": 1, "maximum": retrieval.TOP_K_MAX, "default": 3},
                "score_threshold": nullable({"type": "number", "minimum": 0, "maximum": 1}),
            },
            required=[],
            description="How to search (§5.1); what is left out keeps its default. Hybrid search without "
            "a rerank model is ordered by the weighted score (0.7 vector / 0.3 keyword unless weights "
            "are given); reranking with a model needs the model.",
        ),
        "allOf": [
            {
                # retrieval.normalize_retrieval_model: reranking_enable asks for a rerank model,
                # except hybrid search in the weighted_score mode.
                "if": {
                    "anyOf": [
                        {
                            "properties": {
                                "search_method": {"const": "hybrid_search"},
                                "reranking_enable": {"const": True},
                                "reranking_mode": {"not": {"const": "weighted_score"}},
                            },
                            "required": ["search_method", "reranking_enable"],
                        },
                        {
                            "properties": {
                                "search_method": {"not": {"const": "hybrid_search"}},
                                "reranking_enable": {"const": True},
                            },
                            "required": ["reranking_enable"],
                        },
                    ]
                },
                "then": {
                    "properties": {
                        "reranking_model": obj(
                            {"reranking_provider_name": NAME, "reranking_model_name": NAME}
                        )
                    },
                    "required": ["reranking_model"],
                },
            },
        ],
    },
    "Dataset": obj(
        {
            "id": STRING,
            "name": STRING,
            "description": STRING,
            "provider": enum("vendor", "external"),
            "permission": enum(*PERMISSIONS),
            "data_source_type": nullable(STRING),
            "indexing_technique": nullable(enum(*TECHNIQUES)),
            "app_count": INTEGER,
            "document_count": INTEGER,
            "word_count": INTEGER,
            "created_by": nullable(STRING),
            "author_name": nullable(STRING),
            "created_at": TIMESTAMP,
            "updated_by": nullable(STRING),
            "updated_at": TIMESTAMP,
            "embedding_model": nullable(STRING),
            "embedding_model_provider": nullable(STRING),
            "embedding_available": BOOLEAN,
            "retrieval_model_dict": ref("RetrievalModel"),
            "summary_index_setting": obj(
                {
                    "enable": BOOLEAN,
                    "model_name": nullable(STRING),
                    "model_provider_name": nullable(STRING),
                    "summary_prompt": nullable(STRING),
                }
            ),
            "tags": array(obj({"id": STRING, "name": STRING, "type": STRING})),
            "doc_form": nullable(enum(*DOC_FORMS)),
            "external_knowledge_info": obj(
                {
                    "external_knowledge_id": nullable(STRING),
                    "external_knowledge_api_id": nullable(STRING),
                    "external_knowledge_api_name": nullable(STRING),
                    "external_knowledge_api_endpoint": nullable(STRING),
                }
            ),
            "external_retrieval_model": nullable(
                obj(
                    {
                        "top_k": INTEGER,
                        "score_threshold": nullable(NUMBER),
                        "score_threshold_enabled": BOOLEAN,
                    }
                )
            ),
            "doc_metadata": array(obj({"id": STRING, "name": STRING, "type": enum(*METADATA_TYPES)})),
            "built_in_field_enabled": BOOLEAN,
            "pipeline_id": nullable(STRING),
            "runtime_mode": nullable(STRING),
            "chunk_structure": nullable(STRING),
            "icon_info": obj(
                {
                    "icon_type": nullable(STRING),
                    "icon": nullable(STRING),
                    "icon_background": nullable(STRING),
                    "icon_url": nullable(STRING),
                }
            ),
            "is_published": BOOLEAN,
            "total_documents": INTEGER,
            "total_available_documents": INTEGER,
            "enable_api": BOOLEAN,
            "is_multimodal": BOOLEAN,
        },
        description="A knowledge base (§5.1).",
    ),
    "DatasetWithMembers": {"allOf": [ref("Dataset"), obj({"partial_member_list": array(OBJECT)})]},
    "DatasetList": obj(
        {
            "data": array(ref("Dataset")),
            "has_more": BOOLEAN,
            "limit": INTEGER,
            "total": INTEGER,
            "page": INTEGER,
        }
    ),
    "DatasetCreateRequest": obj(
        {
            "name": {"type": "string", "minLength": 1, "maxLength": 40},
            "description": {"type": "string", "maxLength": 400, "default": ""},
            "indexing_technique": nullable(enum(*TECHNIQUES)),
            "permission": {
                **enum("only_me", "all_team_members"),
                "default": "only_me",
                "description": "partial_members is refused.",
            },
            "provider": {
                **enum("vendor"),
                "default": "vendor",
                "description": "External knowledge is refused.",
            },
            "embedding_model": STRING,
            "embedding_model_provider": STRING,
            "retrieval_model": ref("RetrievalModelInput"),
            "external_knowledge_api_id": {"type": "string", "description": "Ignored: no external knowledge."},
            "external_knowledge_id": {"type": "string", "description": "Ignored: no external knowledge."},
            "summary_index_setting": {"type": "object", "description": "Ignored: no summary index."},
        },
        required=["name"],
    ),
    "DatasetUpdateRequest": obj(
        {
            "name": {"type": "string", "minLength": 1, "maxLength": 40},
            "description": {"type": "string", "maxLength": 400},
            "indexing_technique": enum(*TECHNIQUES),
            "permission": enum("only_me", "all_team_members"),
            "embedding_model": STRING,
            "embedding_model_provider": STRING,
            "retrieval_model": ref("RetrievalModelInput"),
        },
        required=[],
    ),
    "ProcessRule": obj(
        {
            "mode": {
                **enum("automatic", "custom"),
                "description": "hierarchical (parent-child) is not supported.",
            },
            "rules": obj(
                {
                    "pre_processing_rules": array(
                        obj(
                            {
                                "id": enum("remove_extra_spaces", "remove_urls_emails", "remove_stopwords"),
                                "enabled": BOOLEAN,
                            }
                        )
                    ),
                    "segmentation": obj(
                        {"separator": STRING, "max_tokens": INTEGER, "chunk_overlap": INTEGER}, required=[]
                    ),
                    "parent_mode": enum("full-doc", "paragraph"),
                    "subchunk_segmentation": obj(
                        {"separator": STRING, "max_tokens": INTEGER, "chunk_overlap": INTEGER}, required=[]
                    ),
                },
                required=[],
            ),
        },
        required=["mode"],
        description="How a document is cleaned and split (§5.2). Custom mode needs its rules: a separator "
        f"and max_tokens ({rules.MIN_TOKENS}-{rules.MAX_TOKENS_LIMIT}), a chunk_overlap below max_tokens.",
    )
    | {
        "if": {"properties": {"mode": {"const": "custom"}}, "required": ["mode"]},
        "then": {
            "properties": {
                "rules": {
                    "properties": {
                        "segmentation": {
                            "properties": {
                                "separator": {"type": "string", "minLength": 1},
                                "max_tokens": {
                                    "type": "integer",
                                    "minimum": rules.MIN_TOKENS,
                                    "maximum": rules.MAX_TOKENS_LIMIT,
                                },
                                "chunk_overlap": {"type": "integer", "minimum": 0},
                            },
                            "required": ["separator", "max_tokens"],
                        }
                    },
                    "required": ["segmentation"],
                }
            },
            "required": ["rules"],
        },
    },
    "DocumentOptions": obj(
        {
            "indexing_technique": {
                **enum(*TECHNIQUES),
                "description": "Required while the dataset has none yet.",
            },
            "doc_form": {**enum(*DOC_FORMS), "default": "text_model"},
            "doc_language": {"type": "string", "default": "English"},
            "process_rule": ref("ProcessRule"),
            "original_document_id": STRING,
            "retrieval_model": ref("RetrievalModelInput"),
            "embedding_model": STRING,
            "embedding_model_provider": STRING,
        },
        required=[],
    ),
    "DocumentByTextRequest": {"allOf": [ref("DocumentOptions"), obj({"name": NAME, "text": NAME})]},
    "DocumentUpdateByTextRequest": obj(
        {
            "name": {**nullable(STRING), "description": "Required with `text`."},
            "text": {
                **nullable(STRING),
                "description": "The new text; null or missing keeps the document's.",
            },
            "process_rule": ref("ProcessRule"),
            "doc_form": enum(*DOC_FORMS),
            "doc_language": STRING,
            "retrieval_model": ref("RetrievalModelInput"),
        },
        required=[],
    ),
    "DocMetadataValue": obj(
        {
            "id": STRING,
            "name": STRING,
            "type": enum(*METADATA_TYPES),
            "value": nullable({"type": ["string", "number"]}),
        }
    ),
    "Document": obj(
        {
            "id": STRING,
            "position": INTEGER,
            "data_source_type": STRING,
            "data_source_info": obj({"upload_file_id": STRING, "notion_page_id": STRING}, required=[]),
            "data_source_detail_dict": OBJECT,
            "dataset_process_rule_id": nullable(STRING),
            "name": STRING,
            "created_from": STRING,
            "created_by": nullable(STRING),
            "created_at": TIMESTAMP,
            "tokens": INTEGER,
            "indexing_status": enum(*INDEXING),
            "error": nullable(STRING),
            "enabled": BOOLEAN,
            "disabled_at": nullable(TIMESTAMP),
            "disabled_by": nullable(STRING),
            "archived": BOOLEAN,
            "display_status": enum(*DISPLAY),
            "word_count": INTEGER,
            "hit_count": INTEGER,
            "doc_form": enum(*DOC_FORMS),
            "doc_metadata": array(ref("DocMetadataValue")),
            "summary_index_status": nullable(STRING),
            "need_summary": BOOLEAN,
        },
        description="A document (§5.2).",
    ),
    "DocumentList": obj(
        {
            "data": array(ref("Document")),
            "has_more": BOOLEAN,
            "limit": INTEGER,
            "total": INTEGER,
            "page": INTEGER,
        }
    ),
    "DocumentBatch": obj(
        {
            "document": ref("Document"),
            "batch": {"type": "string", "description": "For GET …/{batch}/indexing-status."},
        }
    ),
    "DocumentDetail": obj(
        {
            "id": STRING,
            "position": INTEGER,
            "data_source_type": STRING,
            "data_source_info": OBJECT,
            "dataset_process_rule_id": nullable(STRING),
            "dataset_process_rule": OBJECT,
            "document_process_rule": OBJECT,
            "name": STRING,
            "created_from": STRING,
            "created_by": nullable(STRING),
            "created_at": TIMESTAMP,
            "tokens": INTEGER,
            "indexing_status": enum(*INDEXING),
            "completed_at": nullable(TIMESTAMP),
            "updated_at": TIMESTAMP,
            "indexing_latency": nullable(NUMBER),
            "error": nullable(STRING),
            "enabled": BOOLEAN,
            "disabled_at": nullable(TIMESTAMP),
            "disabled_by": nullable(STRING),
            "archived": BOOLEAN,
            "doc_type": nullable(STRING),
            "doc_metadata": array(ref("DocMetadataValue")),
            "segment_count": INTEGER,
            "average_segment_length": INTEGER,
            "hit_count": INTEGER,
            "display_status": enum(*DISPLAY),
            "doc_form": enum(*DOC_FORMS),
            "doc_language": nullable(STRING),
            "summary_index_status": nullable(STRING),
            "need_summary": BOOLEAN,
        },
        required=["id"],
        description="metadata=all: every field; without: no doc_type/doc_metadata; only: id, doc_type "
        "and doc_metadata.",
    ),
    "IndexingStatus": obj(
        {
            "id": STRING,
            "indexing_status": enum(*INDEXING),
            "processing_started_at": nullable(TIMESTAMP),
            "parsing_completed_at": nullable(TIMESTAMP),
            "cleaning_completed_at": nullable(TIMESTAMP),
            "splitting_completed_at": nullable(TIMESTAMP),
            "completed_at": nullable(TIMESTAMP),
            "paused_at": nullable(TIMESTAMP),
            "error": nullable(STRING),
            "stopped_at": nullable(TIMESTAMP),
            "completed_segments": INTEGER,
            "total_segments": INTEGER,
        }
    ),
    "ChildChunk": obj(
        {
            "id": STRING,
            "segment_id": STRING,
            "content": STRING,
            "position": INTEGER,
            "word_count": INTEGER,
            "type": enum("automatic", "customized"),
            "created_at": TIMESTAMP,
            "updated_at": TIMESTAMP,
        }
    ),
    "Attachment": obj(
        {
            "id": STRING,
            "name": STRING,
            "size": INTEGER,
            "extension": STRING,
            "mime_type": nullable(STRING),
            "source_url": STRING,
        }
    ),
    "SegmentFields": obj(
        {
            "id": STRING,
            "position": INTEGER,
            "document_id": STRING,
            "content": STRING,
            "sign_content": STRING,
            "answer": nullable(STRING),
            "word_count": INTEGER,
            "tokens": INTEGER,
            "keywords": array(STRING),
            "index_node_id": nullable(STRING),
            "index_node_hash": nullable(STRING),
            "hit_count": INTEGER,
            "enabled": BOOLEAN,
            "disabled_at": nullable(TIMESTAMP),
            "disabled_by": nullable(STRING),
            "status": enum("waiting", "indexing", "completed", "error", "re_segment"),
            "created_by": nullable(STRING),
            "created_at": TIMESTAMP,
            "updated_at": TIMESTAMP,
            "updated_by": nullable(STRING),
            "indexing_at": nullable(TIMESTAMP),
            "completed_at": nullable(TIMESTAMP),
            "error": nullable(STRING),
            "stopped_at": nullable(TIMESTAMP),
        }
    ),
    "Segment": {
        "allOf": [
            ref("SegmentFields"),
            obj(
                {
                    "child_chunks": array(ref("ChildChunk")),
                    "attachments": array(ref("Attachment")),
                    "summary": nullable(STRING),
                }
            ),
        ],
        "description": "A chunk of a document (§5.3).",
    },
    "SegmentList": obj(
        {
            "data": array(ref("Segment")),
            "doc_form": enum(*DOC_FORMS),
            "total": INTEGER,
            "has_more": BOOLEAN,
            "limit": INTEGER,
            "page": INTEGER,
        }
    ),
    "SegmentOne": obj({"data": ref("Segment"), "doc_form": enum(*DOC_FORMS)}),
    "SegmentsCreated": obj({"data": array(ref("Segment")), "doc_form": enum(*DOC_FORMS)}),
    "SegmentInput": obj(
        {
            "content": {"type": "string", "minLength": 1},
            "answer": {"type": "string", "description": "Required in qa_model documents."},
            "keywords": array(STRING),
            "attachment_ids": {"description": "Ignored: no attachments."},
        },
        required=["content"],
    ),
    "SegmentUpdate": obj(
        {
            "content": STRING,
            "answer": STRING,
            "keywords": array(STRING),
            "enabled": BOOLEAN,
            "regenerate_child_chunks": BOOLEAN,
            "attachment_ids": {"description": "Ignored: no attachments."},
            "summary": STRING,
        },
        required=[],
    ),
    "MetadataCondition": obj(
        {
            "name": STRING,
            "comparison_operator": enum(
                "contains",
                "not contains",
                "start with",
                "end with",
                "is",
                "is not",
                "empty",
                "not empty",
                "in",
                "not in",
                "=",
                "≠",
                ">",
                "<",
                "≥",
                "≤",
                "before",
                "after",
            ),
            "value": {"description": "A string, number or list, by operator; none for empty/not empty."},
        },
        required=["name", "comparison_operator"],
    ),
    "RetrieveRequest": obj(
        {
            "query": {"type": "string", "minLength": 1, "maxLength": 250},
            "retrieval_model": {
                "allOf": [
                    ref("RetrievalModelInput"),
                    obj(
                        {
                            "metadata_filtering_conditions": obj(
                                {
                                    "logical_operator": enum("and", "or"),
                                    "conditions": array(ref("MetadataCondition")),
                                },
                                required=[],
                            )
                        },
                        required=[],
                    ),
                ],
                "description": "The dataset's own settings when omitted.",
            },
            "external_retrieval_model": {"description": "Ignored: no external knowledge."},
            "attachment_ids": {"description": "Ignored: no attachments."},
        },
        required=["query"],
    ),
    "RetrieveRecord": obj(
        {
            "segment": {
                "allOf": [
                    ref("SegmentFields"),
                    obj(
                        {
                            "document": obj(
                                {
                                    "id": STRING,
                                    "data_source_type": STRING,
                                    "name": STRING,
                                    "doc_type": nullable(STRING),
                                    "doc_metadata": array(ref("DocMetadataValue")),
                                }
                            )
                        }
                    ),
                ]
            },
            "child_chunks": array(
                obj({"id": STRING, "content": STRING, "position": INTEGER, "score": NUMBER})
            ),
            "score": nullable(NUMBER),
            "tsne_position": nullable(OBJECT),
            "files": array(ref("Attachment")),
            "summary": nullable(STRING),
        }
    ),
    "RetrieveResponse": obj({"query": obj({"content": STRING}), "records": array(ref("RetrieveRecord"))}),
    "MetadataField": obj({"id": STRING, "type": enum(*METADATA_TYPES), "name": STRING}),
    "MetadataList": obj(
        {
            "doc_metadata": array(
                obj({"id": STRING, "name": STRING, "type": enum(*METADATA_TYPES), "count": INTEGER})
            ),
            "built_in_field_enabled": BOOLEAN,
        }
    ),
    "DocumentMetadataRequest": obj(
        {
            "operation_data": array(
                obj(
                    {
                        "document_id": STRING,
                        "metadata_list": array(
                            obj(
                                {
                                    "id": STRING,
                                    "name": STRING,
                                    "value": nullable({"type": ["string", "number"]}),
                                },
                                required=["id"],
                            )
                        ),
                        "partial_update": {"type": "boolean", "default": False},
                    },
                    required=["document_id", "metadata_list"],
                )
            )
            | {"maxItems": settings.DATASET_METADATA_MAX_OPERATIONS}
        }
    ),
}

# A metadata field's name: not blank, at most 64 characters, none of the built-in fields' names.
FIELD_NAME: Schema = {**NAME, "maxLength": 64, "not": {"enum": list(retrieval.BUILT_IN_FIELDS)}}
DATASET_ID = path_param("dataset_id", UUID)
DOCUMENT_ID = path_param("document_id", UUID)
SEGMENT_ID = path_param("segment_id", UUID)
RESULT = ok(ref("Result"))
PAGE = [
    query_param("page", {"type": "integer", "minimum": 1, "maximum": 100000, "default": 1}),
    query_param("limit", {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}),
]


operation = functools.partial(openapi.operation, security=SECURITY, common_errors=AUTH)


def _file_part(description: str) -> Schema:
    return {"type": "string", "contentMediaType": "application/octet-stream", "description": description}


DATA_PART = {
    "type": "string",
    "contentMediaType": "application/json",
    "description": "A JSON object: DocumentOptions (and for updates, `name`).",
}

CREATE_BY_TEXT = operation(
    "createDocumentByText",
    "Add a document from text",
    "Documents",
    {"200": ok(ref("DocumentBatch"))},
    error_table=merge_errors(BAD, DATASET),
    body=json_body(ref("DocumentByTextRequest")),
    parameters=[DATASET_ID],
    description="Indexing runs in the background: follow it with the batch.",
)
CREATE_BY_FILE = operation(
    "createDocumentByFile",
    "Add a document from a file",
    "Documents",
    {"200": ok(ref("DocumentBatch"))},
    error_table=merge_errors(
        BAD,
        {
            400: ["no_file_uploaded", "too_many_files"],
            413: ["file_too_large"],
            415: ["unsupported_file_type"],
        },
        DATASET,
    ),
    body=multipart_body(
        obj(
            {"file": _file_part("One document: txt, md, pdf, html, docx, xlsx, csv."), "data": DATA_PART},
            required=["file"],
        )
    ),
    parameters=[DATASET_ID],
    description="`process_rule` is required while the dataset has none.",
)
UPDATE_BY_TEXT = operation(
    "updateDocumentByText",
    "Replace a document's text",
    "Documents",
    {"200": ok(ref("DocumentBatch"))},
    error_table=merge_errors(BAD, DATASET),
    body=json_body(ref("DocumentUpdateByTextRequest"), required=False),
    parameters=[DATASET_ID, DOCUMENT_ID],
)
UPDATE_BY_FILE = operation(
    "updateDocumentByFile",
    "Replace a document's file",
    "Documents",
    {"200": ok(ref("DocumentBatch"))},
    error_table=merge_errors(
        BAD, {400: ["too_many_files"], 413: ["file_too_large"], 415: ["unsupported_file_type"]}, DATASET
    ),
    body=multipart_body(
        obj({"file": _file_part("The new file (optional)."), "data": DATA_PART}, required=[]),
        required=False,
    ),
    parameters=[DATASET_ID, DOCUMENT_ID],
)
SEGMENTS = {
    "get": operation(
        "listSegments",
        "A document's segments",
        "Segments",
        {"200": ok(ref("SegmentList"))},
        error_table=merge_errors(BAD, DATASET),
        parameters=[
            DATASET_ID,
            DOCUMENT_ID,
            *PAGE,
            {
                **query_param("status", array(enum("waiting", "indexing", "completed", "error"))),
                "style": "form",
                "explode": True,
            },
            query_param("keyword"),
        ],
    ),
    "post": operation(
        "createSegments",
        "Add segments",
        "Segments",
        {"200": ok(ref("SegmentsCreated"))},
        error_table=merge_errors(BAD, {400: ["dataset_not_initialized"]}, DATASET, MODEL),
        body=json_body(obj({"segments": {**array(ref("SegmentInput")), "minItems": 1}})),
        parameters=[DATASET_ID, DOCUMENT_ID],
        description="The document must be indexed (completed) and enabled; else 404.",
    ),
}
RETRIEVE = operation(
    "retrieve",
    "Search a dataset (hit testing)",
    "Retrieval",
    {"200": ok(ref("RetrieveResponse"))},
    error_table=merge_errors(BAD, {400: ["dataset_not_initialized"]}, MODEL, DATASET),
    body=json_body(ref("RetrieveRequest")),
    parameters=[DATASET_ID],
)


def _alias(operation_: dict[str, Any], suffix: str) -> dict[str, Any]:
    """The same operation under the reference's other spelling of its path."""
    return {
        **operation_,
        "operationId": operation_["operationId"] + suffix,
        "summary": operation_["summary"] + " (alias)",
    }


D = "/v1/datasets/{dataset_id}"
DOC = D + "/documents/{document_id}"

PATHS: dict[str, dict[str, Any]] = {
    "/v1/datasets": {
        "get": operation(
            "listDatasets",
            "The key's datasets",
            "Datasets",
            {"200": ok(ref("DatasetList"))},
            error_table=BAD,
            parameters=[*PAGE, query_param("keyword")],
        ),
        "post": operation(
            "createDataset",
            "Create an empty dataset",
            "Datasets",
            {"200": ok(ref("Dataset"))},
            error_table=merge_errors(BAD, {403: ["forbidden"], 409: ["dataset_name_duplicate"]}),
            body=json_body(ref("DatasetCreateRequest")),
            description="A key limited to chosen datasets cannot create one (403).",
        ),
    },
    D: {
        "get": operation(
            "getDataset",
            "A dataset",
            "Datasets",
            {"200": ok(ref("Dataset"))},
            error_table=DATASET,
            parameters=[DATASET_ID],
        ),
        "patch": operation(
            "updateDataset",
            "Change a dataset",
            "Datasets",
            {"200": ok(ref("DatasetWithMembers"))},
            error_table=merge_errors(BAD, DATASET, {409: ["dataset_name_duplicate"]}),
            body=json_body(ref("DatasetUpdateRequest"), required=False),
            parameters=[DATASET_ID],
        ),
        "delete": operation(
            "deleteDataset",
            "Delete a dataset",
            "Datasets",
            {"200": DELETED},
            error_table=merge_errors(DATASET, {409: ["dataset_in_use"]}),
            parameters=[DATASET_ID],
        ),
    },
    D + "/documents/status/{action}": {
        "patch": operation(
            "setDocumentsStatus",
            "Enable, disable, archive or un-archive documents",
            "Documents",
            {"200": RESULT},
            error_table=merge_errors(BAD, {400: ["invalid_action"]}, DATASET),
            body=json_body(obj({"document_ids": array(STRING)})),
            parameters=[DATASET_ID, path_param("action", enum("enable", "disable", "archive", "un_archive"))],
        )
    },
    D + "/document/create_by_text": {"post": CREATE_BY_TEXT},
    D + "/document/create-by-text": {"post": _alias(CREATE_BY_TEXT, "Hyphen")},
    D + "/document/create_by_file": {"post": CREATE_BY_FILE},
    D + "/document/create-by-file": {"post": _alias(CREATE_BY_FILE, "Hyphen")},
    DOC + "/update_by_text": {"post": UPDATE_BY_TEXT},
    DOC + "/update-by-text": {"post": _alias(UPDATE_BY_TEXT, "Hyphen")},
    DOC + "/update_by_file": {"post": UPDATE_BY_FILE},
    DOC + "/update-by-file": {"post": _alias(UPDATE_BY_FILE, "Hyphen")},
    D + "/documents": {
        "get": operation(
            "listDocuments",
            "A dataset's documents",
            "Documents",
            {"200": ok(ref("DocumentList"))},
            error_table=merge_errors(BAD, DATASET),
            parameters=[
                DATASET_ID,
                *PAGE,
                query_param("keyword"),
                query_param(
                    "status",
                    {"type": "string", "examples": [*DISPLAY, "active", "enabled"]},
                    "A display status: " + ", ".join(DISPLAY) + " (active and enabled mean available); "
                    "any other value matches no document.",
                ),
            ],
        )
    },
    D + "/documents/metadata": {
        "post": operation(
            "setDocumentsMetadata",
            "Set documents' metadata values",
            "Metadata",
            {"200": RESULT},
            error_table=merge_errors(BAD, {400: ["invalid_metadata"]}, DATASET),
            body=json_body(ref("DocumentMetadataRequest")),
            parameters=[DATASET_ID],
        )
    },
    D + "/documents/{batch}/indexing-status": {
        "get": operation(
            "getIndexingStatus",
            "Indexing progress of a batch",
            "Documents",
            {"200": ok(obj({"data": array(ref("IndexingStatus"))}))},
            error_table=DATASET,
            parameters=[DATASET_ID, path_param("batch", STRING, "The `batch` of a create or update.")],
        )
    },
    DOC: {
        "get": operation(
            "getDocument",
            "A document",
            "Documents",
            {"200": ok(ref("DocumentDetail"))},
            error_table=merge_errors({400: ["invalid_metadata"]}, DATASET),
            parameters=[
                DATASET_ID,
                DOCUMENT_ID,
                query_param("metadata", {**enum("all", "only", "without"), "default": "all"}),
            ],
        ),
        "delete": operation(
            "deleteDocument",
            "Delete a document",
            "Documents",
            {"200": DELETED},
            error_table=merge_errors({403: ["archived_document_immutable"]}, DATASET),
            parameters=[DATASET_ID, DOCUMENT_ID],
        ),
    },
    DOC + "/segments": SEGMENTS,
    DOC + "/segment": {method: _alias(op, "Singular") for method, op in SEGMENTS.items()},
    DOC + "/segments/{segment_id}": {
        "get": operation(
            "getSegment",
            "A segment",
            "Segments",
            {"200": ok(ref("SegmentOne"))},
            error_table=DATASET,
            parameters=[DATASET_ID, DOCUMENT_ID, SEGMENT_ID],
        ),
        "post": operation(
            "updateSegment",
            "Change a segment",
            "Segments",
            {"200": ok(ref("SegmentOne"))},
            error_table=merge_errors(BAD, DATASET, MODEL),
            body=json_body(obj({"segment": ref("SegmentUpdate")})),
            parameters=[DATASET_ID, DOCUMENT_ID, SEGMENT_ID],
        ),
        "delete": operation(
            "deleteSegment",
            "Delete a segment",
            "Segments",
            {"200": DELETED},
            error_table=DATASET,
            parameters=[DATASET_ID, DOCUMENT_ID, SEGMENT_ID],
        ),
    },
    D + "/retrieve": {"post": RETRIEVE},
    D + "/hit-testing": {"post": _alias(RETRIEVE, "HitTesting")},
    D + "/metadata": {
        "get": operation(
            "listMetadataFields",
            "A dataset's metadata fields",
            "Metadata",
            {"200": ok(ref("MetadataList"))},
            error_table=DATASET,
            parameters=[DATASET_ID],
        ),
        "post": operation(
            "createMetadataField",
            "Add a metadata field",
            "Metadata",
            {"201": ok(ref("MetadataField"), "Created.")},
            error_table=merge_errors(BAD, {400: ["invalid_metadata"]}, DATASET),
            body=json_body(obj({"type": enum(*METADATA_TYPES), "name": FIELD_NAME})),
            parameters=[DATASET_ID],
        ),
    },
    D + "/metadata/built-in": {
        "get": operation(
            "listBuiltInFields",
            "The built-in metadata fields",
            "Metadata",
            {"200": ok(obj({"fields": array(obj({"name": STRING, "type": enum(*METADATA_TYPES)}))}))},
            error_table=DATASET,
            parameters=[DATASET_ID],
        )
    },
    D + "/metadata/built-in/{action}": {
        "post": operation(
            "toggleBuiltInFields",
            "Turn the built-in fields on or off",
            "Metadata",
            {"200": RESULT},
            error_table=merge_errors({400: ["invalid_action"]}, DATASET),
            parameters=[DATASET_ID, path_param("action", enum("enable", "disable"))],
        )
    },
    D + "/metadata/{metadata_id}": {
        "patch": operation(
            "renameMetadataField",
            "Rename a metadata field",
            "Metadata",
            {"200": ok(ref("MetadataField"))},
            error_table=merge_errors(BAD, {400: ["invalid_metadata"]}, DATASET),
            body=json_body(obj({"name": FIELD_NAME})),
            parameters=[DATASET_ID, path_param("metadata_id", UUID)],
        ),
        "delete": operation(
            "deleteMetadataField",
            "Delete a metadata field",
            "Metadata",
            {"200": DELETED},
            error_table=DATASET,
            parameters=[DATASET_ID, path_param("metadata_id", UUID)],
        ),
    },
}

TAGS = {
    "Datasets": "Knowledge API, with a `dataset-` key: knowledge bases.",
    "Documents": "Documents of a dataset and their indexing.",
    "Segments": "The chunks of a document.",
    "Retrieval": "Searching a dataset.",
    "Metadata": "Metadata fields and values.",
}


def knowledge_api(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Postprocessing hook (SPECTACULAR_SETTINGS): the Knowledge API's paths and objects."""
    return add(result, paths=PATHS, schemas=SCHEMAS, tags=TAGS)
