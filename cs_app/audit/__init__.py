"""The audit log: who changed which configuration or override, when, before → after."""
