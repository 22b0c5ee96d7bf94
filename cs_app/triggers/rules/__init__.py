"""Trigger rules: definitions, evaluation (scheduled and on events), actions, preview, backtest."""
