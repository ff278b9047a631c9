"""The search query language (``parley.search.query``)."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from parley.search.query import Query, has_link, matches, parse, words

TODAY = dt.date(2026, 11, 25)
DAY = 86_400_000_000


def us(y: int, m: int, d: int) -> int:
    return int(dt.datetime(y, m, d, tzinfo=dt.UTC).timestamp()) * 1_000_000


def test_words_phrases_and_exclusions():
    q = parse('deploy "release train" -flaky -"red build" Ünïcode', TODAY)
    assert q.terms == (("deploy",), ("release", "train"), ("unicode",))
    assert q.excluded == (("flaky",), ("red", "build"))


def test_filters():
    q = parse("in:#General in:<#C0ABCDEF|x> from:@Bob from:<@U0ABCDEF> from:me has:link x", TODAY)
    assert q.channels == (("name", "general"), ("id", "C0ABCDEF"))
    assert q.users == (("name", "bob"), ("id", "U0ABCDEF"), ("me", ""))
    assert q.has_link and q.terms == (("x",),)


def test_dates_are_utc_days_and_narrow_each_other():
    assert parse("on:2026-11-20", TODAY).after_us == us(2026, 11, 20)
    assert parse("on:2026-11-20", TODAY).before_us == us(2026, 11, 21)
    q = parse("after:2026-11-01 before:2026-11-20", TODAY)
    assert (q.after_us, q.before_us) == (us(2026, 11, 2), us(2026, 11, 20))
    assert parse("on:yesterday", TODAY).after_us == us(2026, 11, 24)
    assert parse("on:today", TODAY).before_us == us(2026, 11, 26)
    q = parse("during:2026-12", TODAY)
    assert (q.after_us, q.before_us) == (us(2026, 12, 1), us(2027, 1, 1))
    q = parse("during:2026 after:2026-06-30", TODAY)
    assert (q.after_us, q.before_us) == (us(2026, 7, 1), us(2027, 1, 1))


def test_unknown_or_malformed_filters_are_text():
    q = parse("foo:bar before:someday in:nowhere has:pizza", TODAY)
    assert q.terms == (("foo", "bar"), ("before", "someday"), ("in", "nowhere"), ("has", "pizza"))
    assert q.after_us is None and q.before_us is None and not q.channels and not q.has_link
    assert parse('"unclosed phrase', TODAY).terms == (("unclosed", "phrase"),)
    assert parse('e-mail -"" "" ---', TODAY).terms == (("e", "mail"),)
    assert parse("", TODAY) == Query()


def test_matching_the_current_text():
    q = parse('deploy "release train" -flaky', TODAY)
    assert matches(q, "Deployed the Release train!")
    assert matches(q, "deployed the release, train")  # punctuation is not a word
    assert not matches(q, "deployed the train release")  # the phrase is broken
    assert not matches(q, "deploy release train, flaky")
    assert matches(parse("-flak", TODAY), "flaky")  # exclusions are whole words
    assert has_link("see <https://example.com|here>") and not has_link("no link")
    assert words("Ça va? ÇA VA. Straße") == ("ca", "va", "ca", "va", "straße")


@given(st.text(max_size=300))
def test_any_text_parses(text):
    q = parse(text, TODAY)
    assert len(q.terms) <= 32 and all(all(t) for t in q.terms)
