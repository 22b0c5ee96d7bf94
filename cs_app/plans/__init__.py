"""Success plans: the seven components, templates, history, sharing and export."""
