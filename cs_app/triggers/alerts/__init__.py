"""In-app alerts: creation (deduplicated), the alerts page and the top bar's unread badge."""
