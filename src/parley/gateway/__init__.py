"""The real-time gateway: Slack's RTM protocol over WebSockets (picows), fed by the bus."""
