"""The Slack Web API: request decoding, the method table, and one module per method family."""
