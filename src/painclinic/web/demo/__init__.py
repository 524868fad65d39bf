"""Fictitious demo data for ``make run``, loaded through the services with a command-line actor."""
