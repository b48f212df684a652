"""The team's local certificate authority and the TLS contexts built from it."""
