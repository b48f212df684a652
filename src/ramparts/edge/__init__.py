"""The edge node: runs and supervises the services that users and connectors reach."""
