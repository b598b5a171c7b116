"""Experiments: typed config, sticky assignment, whole-graph arms, outcomes, statistics, reports."""
