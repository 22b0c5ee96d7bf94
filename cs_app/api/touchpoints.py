"""API routes for touchpoints."""

from __future__ import annotations
