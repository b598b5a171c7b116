"""A bagged LambdaMART ranker: several boosters trained alike but for their sampling seed.

Each booster samples 80% of the rows and features per tree (TrainParams), so on a few hundred
training dialogs one seed's model differs from another's by as much as most changes we measure
(docs/quality.md: a second seed moved the session CV's hit@100 by 0.005). Averaging the members'
scores keeps what they agree on and removes what one seed happened to pick.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np


def member_file(i: int) -> str:
    # Member 0 keeps the single-model name, so a one-member artifact is the old layout.
    return "model.txt" if i == 0 else f"model-{i}.txt"


class BaggedBooster:
    """Boosters with one `predict`: the mean of their scores."""

    def __init__(self, boosters: Sequence[Any]):
        if not boosters:
            raise ValueError("a bagged ranker needs at least one booster")
        self.boosters = list(boosters)

    def __len__(self) -> int:
        return len(self.boosters)

    def predict(self, X: np.ndarray, num_threads: int = 1) -> np.ndarray:
        return np.mean([b.predict(X, num_threads=num_threads) for b in self.boosters], axis=0, dtype=np.float64)

    def save(self, directory: Path) -> int:
        for i, b in enumerate(self.boosters):
            b.save_model(str(directory / member_file(i)))
        return len(self.boosters)

    @classmethod
    def load(cls, lgb, directory: Path, members: int) -> "BaggedBooster":
        missing = [member_file(i) for i in range(members) if not (directory / member_file(i)).is_file()]
        if missing:
            raise FileNotFoundError(f"{directory}: ranker members {missing} are missing; retrain the artifact")
        return cls([lgb.Booster(model_file=str(directory / member_file(i))) for i in range(members)])
