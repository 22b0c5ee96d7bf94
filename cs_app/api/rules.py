"""API routes for rules."""

from __future__ import annotations
