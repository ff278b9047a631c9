"""The event log: message events published after commit, partitioned by channel."""
