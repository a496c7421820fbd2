"""The operator console: the web application operators use to work handoff tickets."""
