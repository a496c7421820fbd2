"""Customers' personal data: exporting and erasing it (the recognisers are :mod:`sportello.pii`)."""
