"""Configuration: where files live, snapshot building, and snapshot distribution to edges."""
