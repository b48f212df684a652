"""The forward proxy of the edge: endpoints, PAC files, HTTP policies on web traffic."""
