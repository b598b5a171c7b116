"""Offline quality evaluation on real playlist-curation dialogs (CPCD format), and LLM-as-judge."""
