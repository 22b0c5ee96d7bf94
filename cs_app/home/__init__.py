"""The home page each signed-in user lands on: "My work"."""
