"""What every part of Kefu shares: the clock, identities, secrets and the
cleaning of text that arrives from outside."""
