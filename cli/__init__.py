"""The ``sportello`` command line: a thin layer over the library, at the top of the layers.

:mod:`cli.main` builds the parser and runs a command; each command parses its
arguments, calls one library function and prints the outcome. Nothing below imports
this package (``tests/test_layers.py`` keeps it so).
"""
