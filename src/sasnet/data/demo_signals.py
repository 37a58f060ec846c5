"""The graded statements of a demo review, read back from its text with the generator's vocabulary.

A reader that knows the vocabulary sees exactly what the text reveals of the latents: the writer's stated
standards (harshness), the tone of each aspect remark (the business's aspect quality) and the verdict (the stars).
``benchmarks/bench_history_reference.py`` fits on these to measure how much the histories hide from any model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import numpy as np

from sasnet.data import yelp_vocabulary as vocab

SIGNAL_NAMES = ("disposition", "aspect_tone", "verdict")


@dataclass(frozen=True)
class ReviewSignals:
    disposition: int | None  # 1 (lenient) .. 5 (harsh); None when the review does not state it
    aspect_tones: tuple[int, ...]  # 1 .. 5, one per aspect remark
    verdict: int | None  # 1 .. 5


@cache
def _patterns() -> tuple[dict[str, int], list[tuple[re.Pattern, int]], tuple[str, ...]]:
    dispositions = {phrase: level for level, phrases in vocab.DISPOSITION_PHRASES.items() for phrase in phrases}
    tones = [(re.compile(rf"\b{re.escape(word)}\b"), grade) for grade, words in vocab.TONE_WORDS.items()
             for word in words]
    verdict_starts = tuple(frame.split("{")[0] for frame in vocab.VERDICT_FRAMES)
    return dispositions, tones, verdict_starts


def review_signals(text: str) -> ReviewSignals:
    dispositions, tones, verdict_starts = _patterns()
    disposition, verdict, aspect_tones = None, None, []
    for sentence in re.split(r"(?<=[.!]) ", text):
        body = sentence.rstrip(".!")
        if body in dispositions:
            disposition = dispositions[body]
            continue
        # The tone word comes first; the remark after it may hold another ("not great: the paperwork was a mess").
        found = [(match.start(), grade) for pattern, grade in tones if (match := pattern.search(sentence))]
        if not found:
            continue
        grade = min(found)[1]
        if sentence.startswith(verdict_starts):
            verdict = grade
        else:
            aspect_tones.append(grade)
    return ReviewSignals(disposition, tuple(aspect_tones), verdict)


def signal_matrix(texts) -> np.ndarray:
    """One row per text, columns ``SIGNAL_NAMES``: stated disposition, mean aspect tone, verdict (NaN if absent)."""
    rows = []
    for text in texts:
        signals = review_signals(text)
        rows.append((np.nan if signals.disposition is None else signals.disposition,
                     np.mean(signals.aspect_tones) if signals.aspect_tones else np.nan,
                     np.nan if signals.verdict is None else signals.verdict))
    return np.array(rows, dtype=float).reshape(-1, len(SIGNAL_NAMES))
