"""The workflow graph engine: a variable pool, the graph, nodes, and the run loop (dsl.md §2–§3)."""
