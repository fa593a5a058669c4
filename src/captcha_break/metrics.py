"""Scores of predicted strings against the truth (pure Python, no torch)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Scores:
    count: int
    accuracy: float  # whole string right (the tutorial's rule: every character right)
    char_accuracy: float  # 1 - character error rate, floored at 0
    cer: float  # edit distance / number of true characters
    confusions: list[tuple[str, str, int]] = field(default_factory=list)  # (truth, predicted, n)
    accuracy_by_length: dict[int, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "count": self.count,
            "accuracy": self.accuracy,
            "char_accuracy": self.char_accuracy,
            "cer": self.cer,
            "confusions": [{"label": t, "read": p, "count": n} for t, p, n in self.confusions],
            "accuracy_by_length": {str(k): v for k, v in self.accuracy_by_length.items()},
        }


def edit_ops(truth: str, pred: str) -> tuple[int, list[tuple[str, str]]]:
    """Levenshtein distance and the substitutions (truth char, predicted char) of one
    cheapest alignment."""
    rows, cols = len(truth) + 1, len(pred) + 1
    dist = [[0] * cols for _ in range(rows)]
    for i in range(rows):
        dist[i][0] = i
    for j in range(cols):
        dist[0][j] = j
    for i in range(1, rows):
        for j in range(1, cols):
            cost = truth[i - 1] != pred[j - 1]
            dist[i][j] = min(dist[i - 1][j] + 1, dist[i][j - 1] + 1, dist[i - 1][j - 1] + cost)
    subs, i, j = [], len(truth), len(pred)
    while i and j:  # walk back; prefer the diagonal so substitutions are found
        if dist[i][j] == dist[i - 1][j - 1] + (truth[i - 1] != pred[j - 1]):
            if truth[i - 1] != pred[j - 1]:
                subs.append((truth[i - 1], pred[j - 1]))
            i, j = i - 1, j - 1
        elif dist[i][j] == dist[i - 1][j] + 1:
            i -= 1
        else:
            j -= 1
    return dist[-1][-1], subs[::-1]


def score(truths: list[str], preds: list[str], top_confusions: int = 10) -> Scores:
    if len(truths) != len(preds):
        raise ValueError("need as many predictions as labels")
    if not truths:
        return Scores(0, 0.0, 0.0, 0.0)
    errors, chars = 0, 0
    confusions: Counter[tuple[str, str]] = Counter()
    right_by_len: Counter[int] = Counter()
    total_by_len: Counter[int] = Counter()
    for truth, pred in zip(truths, preds):
        total_by_len[len(truth)] += 1
        chars += len(truth)
        if truth == pred:
            right_by_len[len(truth)] += 1
            continue
        distance, subs = edit_ops(truth, pred)
        errors += distance
        confusions.update(subs)
    cer = errors / max(chars, 1)
    return Scores(
        count=len(truths),
        accuracy=sum(right_by_len.values()) / len(truths),
        char_accuracy=max(0.0, 1.0 - cer),
        cer=cer,
        confusions=[(t, p, n) for (t, p), n in confusions.most_common(top_confusions)],
        accuracy_by_length={n: right_by_len[n] / total_by_len[n] for n in sorted(total_by_len)},
    )
