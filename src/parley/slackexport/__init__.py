"""Slack's workspace export (a ZIP of JSON files): read (:mod:`.read`), imported into a
Parley workspace (:mod:`.load`), and written from one (:mod:`.write`)."""
