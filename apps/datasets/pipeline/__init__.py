"""The ingestion pipeline, stage by stage: extract (files to text), clean, split, Q&A. Pure
functions with no database access, so the indexing service, the preview and the benchmarks share
them."""
