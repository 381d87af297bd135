"""Date, time and number formats of the languages Django does not ship (``FORMAT_MODULE_PATH``)."""
