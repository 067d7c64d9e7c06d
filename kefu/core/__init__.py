"""What every part of Kefu shares, one module per concern: settings (the only
reader of the environment), secrets, the clock, identities and keyed hashes,
shared names, the sentences of domain.yml, service hours, masking of personal
data and the cleaning of text that arrives from outside."""
