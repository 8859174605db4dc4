"""Sentiment scores, levels, the rolling value and alert crossings as plain values (SEN-1, SES-7)."""

import pytest
from afinn import Afinn
from afinn.afinn import LANGUAGE_TO_FILENAME
from hypothesis import given
from hypothesis import strategies as st
from vaderSentiment.vaderSentiment import normalize

from omnichannel.conversations.models import SentimentLevel
from omnichannel.conversations.sentiment import (
    BOUNDS,
    CALM_WEIGHT,
    LEVELS,
    MILD,
    RISING_WEIGHT,
    crossed,
    level,
    reached,
    rolling,
    score,
    weight,
)

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


def conversation(*messages: str, language: str) -> float | None:
    """The rolling value after these customer messages, in order."""
    value = None
    for text in messages:
        value = rolling(value, score(text, language=language))
    return value


POLITE = {
    "en": ["Hi! I hope you can help me, I love your shop.", "Hi, I have a question about my order"],
    "da": ["Hej! Jeg håber I kan hjælpe mig.", "Hej, jeg har et spørgsmål om min ordre"],
}
FURIOUS = {
    "en": [
        "This is ridiculous. I have waited three weeks and nobody answers. I am furious!",
        "This is absolutely unacceptable, your service is terrible and I want a refund now",
        "I'm really disappointed and angry, the product broke after one day",
    ],
    "da": [
        "Det her er fuldstændig uacceptabelt. Jeg har ventet i tre uger, og ingen svarer. Jeg er rasende!",
        "I er håbløse, det er den værste kundeservice nogensinde",
        "Det er elendigt og jeg er meget vred",
    ],
}
MILD_COMPLAINTS = {
    "en": ["I have a problem with my invoice", "Unfortunately the parcel hasn't arrived yet"],
    "da": ["Jeg har et problem med min faktura", "Pakken er desværre ikke kommet endnu"],
}
WARM = {"en": "Great, thank you so much, that's very helpful!", "da": "Tusind tak, det var en stor hjælp!"}
NEGATIVE_THRESHOLDS = ["slightly_negative", "negative", "very_negative"]


def by_language(messages: dict[str, list[str]]) -> list[tuple[str, str]]:
    return [(language, text) for language, texts in messages.items() for text in texts]


def test_a_conversation_starts_neutral_and_one_message_moves_it():
    """SEN-1: the first message moves the value from Neutral as any other does, so a warm
    opening shows warm, not as warm as the one message alone."""
    assert rolling(None, 0.8) == rolling(0.0, 0.8) == pytest.approx(0.24)
    opening = score("Thank you so much, this is wonderful!", language="en")
    assert level(opening) == "very_positive"
    assert level(rolling(None, opening)) == "slightly_positive"


@pytest.mark.parametrize(("language", "furious"), by_language(FURIOUS))
@pytest.mark.parametrize("opening", [0, 1])
def test_a_furious_message_after_a_polite_opening_reaches_every_threshold_at_once(language, furious, opening):
    """SEN-1, SES-7: a polite opening, then a furious complaint: the conversation is Very negative
    on that message, at or below every threshold, having been above them."""
    polite = conversation(POLITE[language][opening], language=language)
    assert level(polite) in ("neutral", "slightly_positive")
    after = rolling(polite, score(furious, language=language))
    assert level(after) == "very_negative"
    for threshold in NEGATIVE_THRESHOLDS:
        assert crossed(level(polite), level(after), threshold)


@pytest.mark.parametrize(("language", "mild"), by_language(MILD_COMPLAINTS))
@pytest.mark.parametrize("opening", [0, 1])
def test_one_mildly_negative_word_does_not_flip_a_neutral_or_warm_chat(language, mild, opening):
    """SEN-1: "problem", "unfortunately", "desværre" in a chat neutral or warm so far, and as
    the opening message, leave it Neutral or better: no alert."""
    assert score(mild, language=language) <= -BOUNDS[0]  # negative as a message
    polite = conversation(POLITE[language][opening], language=language)
    for before in (None, polite):
        after = rolling(before, score(mild, language=language))
        assert level(after) in ("neutral", "slightly_positive")
        assert not crossed(level(before) if before is not None else None, level(after), "slightly_negative")


def test_mild_complaints_in_a_row_do_reach_the_threshold():
    """SEN-1: one mild complaint is not a turn, two in a row are."""
    first, second = MILD_COMPLAINTS["da"]
    assert level(conversation(first, language="da")) == "neutral"
    assert level(conversation(first, second, language="da")) == "slightly_negative"


@pytest.mark.parametrize("language", ["en", "da"])
def test_one_warm_message_after_a_furious_one_does_not_snap_it_back(language):
    """SEN-1, SES-7: a thank-you right after a furious complaint leaves the conversation at or
    below the threshold; the warmth that follows brings it back, a little at a time."""
    polite, furious = POLITE[language][0], FURIOUS[language][0]
    levels = [level(conversation(polite, furious, *[WARM[language]] * n, language=language)) for n in range(5)]
    assert levels[1] in ("slightly_negative", "negative")
    assert LEVELS.index(levels[4]) > LEVELS.index("neutral")
    assert [LEVELS.index(each) for each in levels] == sorted(LEVELS.index(each) for each in levels)


def test_the_pull_of_a_negative_message_grows_with_its_anger():
    """SEN-1: mild scores move the value little, a Very negative one sets it, linearly between."""
    assert weight(0.9) == weight(0.0) == RISING_WEIGHT
    assert weight(-0.2) == weight(-MILD) == CALM_WEIGHT
    assert weight(-(MILD + BOUNDS[2]) / 2) == pytest.approx((CALM_WEIGHT + 1) / 2)
    assert weight(-BOUNDS[2]) == weight(-1.0) == 1


scores = st.floats(-1, 1)
starts = st.none() | scores


@given(starts, scores)
def test_the_rolling_value_lies_between_where_it_was_and_the_message(previous, value):
    """SEN-1: the value stays within [-1, 1], between its start (Neutral for the first message) and the score."""
    start = 0.0 if previous is None else previous
    low, high = sorted([start, value])
    assert low - 1e-15 <= rolling(previous, value) <= high + 1e-15  # give or take rounding


@given(starts, st.floats(-1, -BOUNDS[2]))
def test_a_very_negative_message_sets_the_value(previous, value):
    """SEN-1, SES-7: whatever came before, a Very negative message's score is the conversation's."""
    assert rolling(previous, value) == value
    assert level(rolling(previous, value)) == "very_negative"


@given(st.none() | st.floats(0, 1), st.floats(-MILD, 1))
def test_from_neutral_or_warm_one_mild_message_never_turns_negative(previous, value):
    """SEN-1: from 0 or above, one message scoring -MILD or more leaves the level Neutral or better."""
    assert LEVELS.index(level(rolling(previous, value))) >= LEVELS.index("neutral")


@given(st.floats(-1, -BOUNDS[2]), scores)
def test_from_very_negative_no_one_message_ends_the_alert(previous, value):
    """SEN-1, SES-7: from Very negative, one message however warm leaves it at Slightly negative or below."""
    assert reached(level(rolling(previous, value)), "slightly_negative")


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
