"""``link_names``' pure core: which names a text writes, and the text with them linked."""

from __future__ import annotations

from parley.pipeline import linknames

PEOPLE = {"alice": "UALICE", "bob.smith": "UBOB"}
GROUPS = {"oncall": "SONCALL"}
CHANNELS = {"general": "CGEN", "ops-alerts": "COPS"}


def linked(text: str) -> str:
    return linknames.linked(text, PEOPLE, GROUPS, CHANNELS)


def test_the_names_a_text_writes_outside_code_and_markup():
    people, channels = linknames.names(
        "@Alice and @bob.smith. see #general, `@code` <@UX|@marked> mail@example.com #ops-alerts"
    )
    assert {"alice", "bob.smith", "bob.smith."} <= people and "code" not in people
    assert "example.com" not in people and "marked" not in people
    assert channels == {"general", "ops-alerts"}


def test_names_become_markup_and_everything_else_stays():
    assert linked("hi @alice, @Bob.smith.") == "hi <@UALICE>, <@UBOB>."
    assert linked("@here @channel @everyone") == "<!here> <!channel> <!everyone>"
    assert linked("paging @oncall!") == "paging <!subteam^SONCALL|@oncall>!"
    assert linked("see #general and #ops-alerts.") == (
        "see <#CGEN|general> and <#COPS|ops-alerts>."
    )
    assert linked("@nobody #nowhere") == "@nobody #nowhere"
    assert linked("`@alice` ```\n#general\n``` <@UALICE> <https://x/#general>") == (
        "`@alice` ```\n#general\n``` <@UALICE> <https://x/#general>"
    )
    assert linked("mail alice@example.com, https://x.test/@alice/#general") == (
        "mail alice@example.com, https://x.test/@alice/#general"
    )
