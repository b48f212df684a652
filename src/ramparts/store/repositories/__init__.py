"""Repositories: the only code that writes rows. One module per resource."""
