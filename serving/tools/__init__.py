"""Operator tools kept apart from the request path: benchmarks, the intent comparison and bench, the LLM
preparation used by `segue intent`/`convert-llm`, and a local OTLP receiver. Nothing in the serving graph
imports this package."""
