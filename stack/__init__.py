"""Service start-up: the processes that make up a running assistant, started and watched.

An edge, like the command line: it imports the domain packages to start them, and
nothing below imports it.
"""
