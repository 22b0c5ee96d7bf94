"""Customer accounts and their contacts."""
