"""The agent runtime: a model that calls tools in a loop until it can answer.

Agent-chat apps (apps.applications.generation) and the workflow Agent node run the same loop
(runner.AgentRun) with one of two strategies: the provider's native function calling, or ReAct,
a prompt format any chat model can follow (react.py parses what it writes).
"""
