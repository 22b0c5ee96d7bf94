"""``cs-app import``: load accounts, contacts, events and metric values from CSV exports.

``csv_reader`` (pure) reads the file and turns text into typed values; ``mapping`` (pure) maps
the file's columns onto our fields; ``importers`` feeds the rows in batches through the
accounts services and the bulk ingestion; ``cli`` is the click group.
"""
