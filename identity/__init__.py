"""Customer identity: one person across web chat, messaging channels and e-mail."""
