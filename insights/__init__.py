"""Insights for marketing and supervisors: what customers ask, what the bot could not
answer, how satisfied they are and how fast the desk answers.

``insights.filters`` says which period, channel and language a report covers;
``insights.data`` reads the customer log and the desk for that period (the package's
only SQL); ``insights.figures`` computes every figure from what was read;
``insights.gaps`` clusters the questions the bot could not answer;
``insights.report`` puts them together as tables (CSV, JSON, text); ``insights.charts``
draws them with matplotlib; ``insights.demo`` writes simulated data for a first look.
Every figure's definition is in its docstring and in docs/insights.md.
"""
