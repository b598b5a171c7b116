"""LLM-as-judge: rubric-based pointwise scores and position-swapped pairwise comparisons."""
