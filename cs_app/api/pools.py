"""API routes for pools."""

from __future__ import annotations
