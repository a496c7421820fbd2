"""The operator desk: conversations the bot hands over to people."""
