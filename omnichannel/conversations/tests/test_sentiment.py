"""Sentiment scores, levels, the rolling value and alert crossings as plain values (SEN-1)."""

import pytest
from afinn import Afinn
from afinn.afinn import LANGUAGE_TO_FILENAME
from hypothesis import given
from hypothesis import strategies as st
from vaderSentiment.vaderSentiment import normalize

from omnichannel.conversations.models import SentimentLevel
from omnichannel.conversations.sentiment import BOUNDS, LEVELS, crossed, level, rolling, score

DANISH = Afinn(language="da")
DANISH_LEXICON = Afinn.read_word_file(DANISH.full_filename(LANGUAGE_TO_FILENAME["da"]))
MULTI_WORD = sorted(entry for entry in DANISH_LEXICON if not entry.isalnum())


def test_levels_are_the_model_choices_worst_first():
    """SEN-1: the seven levels are SentimentLevel's values, ordered from very negative to very positive."""
    assert LEVELS == tuple(SentimentLevel.values)


@pytest.mark.parametrize(
    ("text", "levels"),
    [
        ("Thank you so much, this is wonderful!", {"very_positive", "positive"}),
        ("This is terrible, I am furious and want a refund", {"very_negative", "negative"}),
        ("My order number is 12345", {"neutral"}),
    ],
)
def test_english_messages_land_on_sensible_levels(text, levels):
    """SEN-1: English is scored with VADER's lexicon."""
    assert level(score(text, language="en")) in levels


@pytest.mark.parametrize(
    ("text", "levels"),
    [
        ("Tak, det er fantastisk godt", {"very_positive", "positive"}),
        ("Det er elendigt og jeg er meget vred", {"very_negative", "negative"}),
        ("Min ordre har nummer 12345", {"neutral"}),
    ],
)
def test_danish_messages_land_on_sensible_levels(text, levels):
    """SEN-1: Danish is scored with AFINN's Danish lexicon."""
    assert level(score(text, language="da")) in levels


@pytest.mark.parametrize("language", ["da", "da-DK", "DA-dk", "da_DK"])
def test_danish_language_codes_use_the_danish_lexicon(language):
    """SEN-1: any Danish tag picks AFINN-da: "godt" is not in VADER's lexicon."""
    assert score("godt", language=language) > 0


@pytest.mark.parametrize("language", ["en", "en-GB", "de", "dav", ""])
def test_other_languages_fall_back_to_english(language):
    """SEN-1: without a lexicon of its own a language is scored as English."""
    assert score("godt", language=language) == 0
    assert score("great", language=language) == score("great", language="en") > 0


def test_danish_multi_word_entries_count():
    """SEN-1: "fungerer ikke" is negative as a phrase although neither word is."""
    assert level(score("Min telefon fungerer ikke", language="da-DK")) == "negative"
    assert score("ikke god", language="da") < 0 < score("god", language="da")


words = st.sampled_from(
    MULTI_WORD
    + sorted({word for entry in MULTI_WORD for word in entry.replace("-", " ").split()})
    + ["godt", "vred", "12345"]
)
separators = st.sampled_from(["", " ", "  ", "\n", ", ", "-", "! "])


@given(st.lists(st.tuples(words, separators, st.booleans()), max_size=20))
def test_danish_score_equals_afinns_own(pieces):
    """SEN-1: the fast Danish path sums exactly what AFINN's regex scorer does, normalised as VADER does."""
    text = "".join((word.upper() if upper else word) + separator for word, separator, upper in pieces)
    assert score(text, language="da") == normalize(DANISH.score(text), alpha=15)


@given(st.text(max_size=200), st.sampled_from(["en", "da"]))
def test_score_stays_within_one(text, language):
    """SEN-1: every score is in [-1, 1]."""
    assert -1 <= score(text, language=language) <= 1


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (-1.0, "very_negative"),
        (-BOUNDS[2], "very_negative"),
        (-0.69, "negative"),
        (-BOUNDS[1], "negative"),
        (-0.39, "slightly_negative"),
        (-BOUNDS[0], "slightly_negative"),
        (-0.09, "neutral"),
        (0.0, "neutral"),
        (0.09, "neutral"),
        (BOUNDS[0], "slightly_positive"),
        (0.39, "slightly_positive"),
        (BOUNDS[1], "positive"),
        (0.69, "positive"),
        (BOUNDS[2], "very_positive"),
        (1.0, "very_positive"),
    ],
)
def test_levels_at_their_bounds(value, expected):
    """SEN-1: a bound belongs to the level further from neutral, the same on both sides."""
    assert level(value) == expected


def test_rolling_value_is_an_exponential_moving_average():
    """SEN-1: the first message sets the value; later ones move it 30% of the way to their score."""
    assert rolling(None, -0.5) == -0.5
    assert rolling(0.5, -0.5) == pytest.approx(0.2)
    value = None
    for _ in range(20):
        value = rolling(value, -1.0 if value is None else 1.0)
    assert value == pytest.approx(1.0, abs=0.01)


@pytest.mark.parametrize(
    ("previous", "new", "threshold", "expected"),
    [
        ("neutral", "slightly_negative", "slightly_negative", True),
        ("neutral", "very_negative", "slightly_negative", True),
        (None, "negative", "slightly_negative", True),
        (None, "neutral", "slightly_negative", False),
        ("slightly_negative", "negative", "slightly_negative", False),
        ("negative", "slightly_negative", "slightly_negative", False),
        ("negative", "neutral", "slightly_negative", False),
        ("neutral", "slightly_negative", "negative", False),
        ("positive", "very_negative", "", False),
        (None, "very_negative", "", False),
    ],
)
def test_crossed_only_when_falling_to_the_threshold(previous, new, threshold, expected):
    """SEN-1: an alert fires once, as the rolling level reaches the workstream's threshold; blank means never."""
    assert crossed(previous, new, threshold) is expected
