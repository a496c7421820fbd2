"""The customer-facing chat page (FastAPI app serving the rasa-webchat widget)."""
