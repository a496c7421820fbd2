"""Customers' personal data: scrubbing it from shared text, exporting and erasing it."""
