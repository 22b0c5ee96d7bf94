"""Weighted health scores: scorecards, measures, snapshots, overrides."""
