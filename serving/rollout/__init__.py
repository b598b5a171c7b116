"""The rollout controller: steps a canary's weight from per-arm evidence, or rolls it back."""
