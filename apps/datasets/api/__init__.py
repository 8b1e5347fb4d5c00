"""The Knowledge (dataset) API under /v1/datasets (service-api.md §5), on DRF."""
