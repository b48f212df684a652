"""The edge side of tunnels: the server connectors dial, and routing requests down to them."""
