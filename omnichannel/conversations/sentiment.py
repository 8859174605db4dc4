"""Sentiment of customer messages, scored locally with a lexicon per language, and the
conversation's rolling value (SEN-1).

The conversation's value is a moving average whose weight depends on the message's score, so
that it is quick to fall and slow to flip. It starts Neutral (0); each customer message moves
it part of the way to its score:

- a positive or neutral message by RISING_WEIGHT (0.3);
- a negative one by CALM_WEIGHT (0.15) down to -MILD, rising linearly to 1 at the Very negative
  bound: a message the scale itself calls Very negative sets the value.

So, for one message:

- Very negative (a furious complaint) makes the conversation Very negative at once, however
  warm it was: every alert threshold is reached on that message (SES-7);
- from 0 or above (a chat neutral or warm so far), a message scoring -MILD or more (one negative
  word: "problem", "unfortunately", "desværre") leaves it Neutral or better: 0.15·(-0.5) > -0.1;
- from Very negative, no message, however warm, lifts it above Slightly negative:
  -0.7 + 0.3·1.7 < -0.1, so one thank-you after a furious message does not end the alert.

Between -MILD and the Very negative bound ("I am very angry", "Det er for dårligt") the pull
grows with the anger. One float per conversation is all it keeps.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from functools import cache

from afinn import Afinn
from afinn.afinn import LANGUAGE_TO_FILENAME
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer, normalize

# The values of models.SentimentLevel, worst first, spelled out so scoring needs no Django.
LEVELS = ("very_negative", "negative", "slightly_negative", "neutral", "slightly_positive", "positive", "very_positive")
_NEUTRAL = LEVELS.index("neutral")

# Each bound |value| reaches moves one level away from neutral, the sign picking the side, so the
# scale is symmetric even at the bounds. Neutral is ±0.1, not VADER's customary ±0.05, because one
# faintly rated word ("number" is +0.3, compound 0.077) would tip a factual message positive. With
# VADER's squashing a lone lexicon word rated 1, 2-3 or 4-5 lands slightly, plainly or very off neutral.
BOUNDS = (0.1, 0.4, 0.7)

# A message's share of the conversation's value (see the module's docstring). A lone word rated
# -2 scores -0.40 (VADER) to -0.46 (AFINN), mostly what a customer describing a fault writes
# anyway, so MILD is just below them; CALM_WEIGHT · MILD stays inside Neutral's ±0.1. RISING_WEIGHT
# (the old single weight) brings a furious chat back to Neutral after two warm messages.
RISING_WEIGHT = 0.3
CALM_WEIGHT = 0.15
MILD = 0.5


# Built on first use, not at import, so Django start-up does not pay for reading the lexicons; a
# race may build one twice, which is harmless, and scoring keeps no state between calls.
@cache
def _vader() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


@cache
def _danish() -> tuple[Afinn, re.Pattern[str], dict[str, int]]:
    analyzer = Afinn(language="da")
    lexicon = Afinn.read_word_file(analyzer.full_filename(LANGUAGE_TO_FILENAME["da"]))
    multi_word = {entry: value for entry, value in lexicon.items() if not entry.isalnum()}
    return analyzer, re.compile(Afinn.regex_from_tokens(list(multi_word))), multi_word


def score(text: str, *, language: str) -> float:
    """The message's sentiment in [-1, 1]: AFINN's Danish lexicon for Danish, VADER otherwise."""
    # Primary subtag only: "da", "da-DK" and "da_DK" are Danish, "dav" (Taita) is not.
    if language[:3].lower() in ("da", "da-", "da_"):
        # VADER's squashing of its compound score, so both languages share the levels.
        return normalize(_danish_sum(text), alpha=15)
    # English, and the fallback for every language without a lexicon here.
    return _vader().polarity_scores(text)["compound"]


def _danish_sum(text: str) -> float:
    # AFINN's own score() tries all 3,500 entries at every word, ~12 µs a word. Its word-split scorer
    # is ~60 times faster but blind to multi-word and hyphenated entries ("fungerer ikke",
    # "ikke-godkendt"), so those are matched first, with AFINN's regex builder, and the text between
    # them is split. The sum equals score()'s, where such an entry also outranks its first word.
    analyzer, multi_word_regex, multi_word = _danish()
    parts = multi_word_regex.split(" ".join(text.lower().split()))  # matched entries at odd indices
    return sum(multi_word[entry] for entry in parts[1::2]) + analyzer.score_with_wordlist(" ".join(parts[::2]))


def level(value: float) -> str:
    """The SentimentLevel value for a score or rolling value."""
    steps = bisect_right(BOUNDS, abs(value))
    return LEVELS[_NEUTRAL + steps if value > 0 else _NEUTRAL - steps]


def weight(value: float) -> float:
    """A message's share of the conversation's rolling value, by the message's score."""
    if value >= -MILD:
        return RISING_WEIGHT if value >= 0 else CALM_WEIGHT
    if value <= -BOUNDS[2]:
        return 1.0
    return CALM_WEIGHT + (1 - CALM_WEIGHT) * (-value - MILD) / (BOUNDS[2] - MILD)


def rolling(previous: float | None, value: float) -> float:
    """The conversation's sentiment after a message scoring `value`; None before its first message."""
    start = 0.0 if previous is None else previous  # a conversation starts Neutral
    share = weight(value)
    return (1 - share) * start + share * value  # exactly `value` when its share is 1


def crossed(previous_level: str | None, new_level: str, threshold: str) -> bool:
    """Whether the rolling level has just fallen to the workstream's alert threshold; blank never alerts."""
    if not threshold:
        return False
    bound = LEVELS.index(threshold)
    # No level yet counts as above, so a conversation that opens at or below the threshold alerts at once.
    was_above = previous_level is None or LEVELS.index(previous_level) > bound
    return was_above and LEVELS.index(new_level) <= bound


def reached(current_level: str, threshold: str) -> bool:
    """Whether a conversation's level is at or below the workstream's alert threshold (SEN-1, SES-7)."""
    if not threshold or not current_level:
        return False
    return LEVELS.index(current_level) <= LEVELS.index(threshold)
