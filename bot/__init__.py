"""Rasa-side Python for Sportello: runs inside the Rasa server (Python 3.10).

Rasa puts the working directory on ``sys.path``, so the pipeline and the credentials
refer to these modules as ``bot.components`` and ``bot.channels``. Keep this package
free of anything the Rasa environment does not have installed.
"""
