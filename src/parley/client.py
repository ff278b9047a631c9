"""The client side of Parley's delivery contract, for ``slack_sdk`` users.

:class:`ResumingRTMClient` is ``slack_sdk.rtm_v2.RTMClient`` plus what Parley promises a
client that plays its part:

- every reconnect (the SDK reconnects on its own after a drop) asks ``rtm.connect`` to
  resume from the last ``seq`` held in each channel, so nothing missed is lost;
- new-message events already seen are dropped by ``(channel, seq)`` before any listener
  sees them (delivery is at least once; listeners see each message once);
- listeners run one at a time, in arrival order (``concurrency=1``), so channel order
  holds. The SDK's default of 10 worker threads would reorder them.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from slack_sdk.rtm_v2 import RTMClient

_POSITIONAL = (None, "thread_broadcast", "message_deleted")


class SeqTracker:
    """Which messages of each channel a client holds. Pure, thread-safe.

    ``last[channel]`` is the highest seq with nothing missing below it (since the first
    one seen); seqs seen beyond a gap are remembered until the gap fills.
    """

    def __init__(self) -> None:
        self.last: dict[str, int] = {}
        self._ahead: dict[str, set[int]] = {}
        self._lock = threading.Lock()

    def admit(self, channel: str, seq: int, *, new: bool) -> bool:
        """Records ``seq``; ``False`` when it is a new message already held (a duplicate).
        Events that act on a held message (``new=False``) always pass."""
        with self._lock:
            last = self.last.get(channel)
            if last is None:
                self.last[channel] = seq
                return True
            ahead = self._ahead.setdefault(channel, set())
            if seq <= last or seq in ahead:
                return not new
            ahead.add(seq)
            while last + 1 in ahead:
                last += 1
                ahead.discard(last)
            self.last[channel] = last
            return True

    def resume_map(self) -> dict[str, int]:
        with self._lock:
            return dict(self.last)


class ResumingRTMClient(RTMClient):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("concurrency", 1)
        super().__init__(**kwargs)
        self.seqs = SeqTracker()

    def issue_new_wss_url(self) -> str:
        resume = self.seqs.resume_map()
        if not resume:
            return super().issue_new_wss_url()
        return self.web_client.rtm_connect(resume=json.dumps(resume))["url"]

    def run_message_listeners(self, message: dict) -> None:
        channel, seq, subtype = message.get("channel"), message.get("seq"), message.get("subtype")
        if (
            message.get("type") == "message"
            and subtype in _POSITIONAL
            and isinstance(channel, str)
            and isinstance(seq, int)
            and not self.seqs.admit(channel, seq, new=subtype != "message_deleted")
        ):
            return  # a message this client already has
        super().run_message_listeners(message)
