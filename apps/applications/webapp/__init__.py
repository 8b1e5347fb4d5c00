"""The public WebApps (/chat/<code>, /completion/<code>) and what the chat widget shares with them:
who the end user is (identity), abuse limits (ratelimit), the JSON/SSE endpoints (api) and the
pages (views)."""
