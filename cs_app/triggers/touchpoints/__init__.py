"""Touchpoints: templates rendered in a Jinja sandbox, scheduling, and delivery with retries."""
