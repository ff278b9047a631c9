"""Bringing a workspace from elsewhere into Parley: Slack's export (:mod:`.export`,
read; :mod:`.load`, written)."""
