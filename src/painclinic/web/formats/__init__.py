"""Input formats pinned to ISO dates and 24-hour times in every language (FORMAT_MODULE_PATH).

A date typed as 03/04/2026 means March in the United States and April in Canada and France:
the forms accept only YYYY-MM-DD and HH:MM, whatever the language or the browser's locale.
"""
