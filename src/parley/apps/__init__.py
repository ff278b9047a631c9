"""Slack apps: what they receive over Socket Mode and the Events API's HTTP delivery."""
