"""Photo evidence: the checks and cleaning of a shopper's photo, where it is kept, signed links for agents."""
