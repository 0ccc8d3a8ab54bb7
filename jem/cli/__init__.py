"""The `jem` command: local clusters, daemons, submission and inspection."""
