"""Scheduled jobs: their runs, the leader lease, and the runner shared by the CLI and scheduler."""
