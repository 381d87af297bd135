"""flowdesk's SQLite database backend: Django's, with writers of one process queued in memory."""
