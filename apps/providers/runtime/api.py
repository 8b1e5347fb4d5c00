"""Async entry points: resolve a workspace's model without touching the ORM from the event loop.

    model = await get_model(tenant, ModelType.LLM, "openai", "gpt-4o-mini")
    async for chunk in model.stream(messages): ...

Resolution (credential lookup, decryption, price) runs in a worker thread inside the workspace's
schema; the calls themselves hold no database connection.
"""

from typing import Any

from apps.providers import selectors
from apps.providers.runtime.entities import ModelType
from apps.providers.runtime.instance import ModelInstance
from apps.workspaces.sync import run_in_tenant


async def get_model(tenant: Any, model_type: ModelType | str, provider: str, model: str) -> ModelInstance:
    return await run_in_tenant(tenant, selectors.resolve, model_type, provider, model)


async def get_default_model(tenant: Any, model_type: ModelType | str) -> ModelInstance:
    return await run_in_tenant(tenant, selectors.resolve_default, model_type)
