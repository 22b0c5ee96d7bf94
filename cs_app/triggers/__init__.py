"""Trigger rules, CSM pools and touchpoints."""
