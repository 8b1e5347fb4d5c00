"""The production path on a real Redis: channels-redis across two layer instances and the cache
that login throttling uses."""

import pytest
from channels_redis.core import RedisChannelLayer
from django.core.cache.backends.redis import RedisCache

pytestmark = [pytest.mark.redis]


@pytest.mark.asyncio
async def test_channels_redis_relays_between_processes(redis_url: str) -> None:
    sender, receiver = RedisChannelLayer(hosts=[redis_url]), RedisChannelLayer(hosts=[redis_url])
    channel = await receiver.new_channel()
    await receiver.group_add("ws_alpha.events", channel)
    await sender.group_send("ws_alpha.events", {"type": "relay", "event": {"n": 1}})
    assert await receiver.receive(channel) == {"type": "relay", "event": {"n": 1}}
    await receiver.group_discard("ws_alpha.events", channel)
    await sender.flush()


def test_redis_cache_is_shared(redis_url: str) -> None:
    one, two = RedisCache(redis_url, {}), RedisCache(redis_url, {})
    one.set("throttle:olivia", 3, 30)
    assert two.incr("throttle:olivia") == 4
