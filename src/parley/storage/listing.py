"""Which channels a listing shows: the SQL condition both directories' ``channels`` use,
and the direct messages each person closed (``conversations.close``).

Pure: builds text, runs nothing. The backends differ only in how they name parameters
(SQLite ``:user``, MariaDB ``%(user)s``), so the caller passes its own ``param``.
"""

from __future__ import annotations

from collections.abc import Callable


def channel_kinds(
    *,
    public: bool,
    private: bool,
    ims: bool,
    mpims: bool = False,
    member_only: bool,
    shared: bool,
    param: Callable[[str], str],
) -> str | None:
    """The condition on ``channels c`` for the kinds asked, or ``None`` for none.

    - public channels: all of the team's, or with ``member_only`` those ``user`` is in;
    - private channels, direct messages and group ones (``mpims``): those ``user`` is
      in, and with ``shared`` those ``viewer`` is in too (another's list shows nothing
      private the viewer could not see);
    - parameters named ``user`` and ``viewer``, written by ``param``.
    """

    def member(who: str) -> str:
        where = f"m.channel_id = c.id AND m.user_id = {param(who)}"
        return f"EXISTS (SELECT 1 FROM members m WHERE {where})"

    mine = member("user")
    hidden = f"{mine} AND {member('viewer')}" if shared else mine
    kinds = []
    if public:
        kinds.append(f"(c.is_private = 0 AND {mine})" if member_only else "c.is_private = 0")
    if private:
        kinds.append(f"(c.is_private = 1 AND c.is_im = 0 AND c.is_mpim = 0 AND {hidden})")
    if ims:
        kinds.append(f"(c.is_im = 1 AND {hidden})")
    if mpims:
        kinds.append(f"(c.is_mpim = 1 AND {hidden})")
    return f"({' OR '.join(kinds)})" if kinds else None


#: A person closed a direct or group direct message when its last message was a ``seq``
#: and has not opened it since (``{p}``: the backend's placeholder; parameters: user,
#: channel, seq).
CLOSE_QUERY = (
    "REPLACE INTO closed_conversations (user_id, channel_id, closed_seq) VALUES ({p}, {p}, {p})"
)
#: They opened it again (parameters: user, channel).
REOPEN_QUERY = "DELETE FROM closed_conversations WHERE user_id = {p} AND channel_id = {p}"
#: The ones a person closed, each with that seq (parameter: user).
CLOSED_QUERY = "SELECT channel_id, closed_seq FROM closed_conversations WHERE user_id = {p}"
