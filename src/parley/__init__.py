"""Parley: a Slack-compatible, self-hostable, real-time message delivery server."""

__version__ = "0.1.0"
