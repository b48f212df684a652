"""Access: the identity-aware proxy in front of applications.

- ``evaluate``: pure policy evaluation (bypass and service auth first, then allow/block in
  order, first match wins, default deny).
- ``gate``: what the edge's HTTPS listener asks for every request (:class:`AccessGate`).
- ``team_app``: the ASGI app of the team domain (login, IdP callbacks, one-time PIN, logout,
  keys, app launcher) and of ``/cdn-cgi/access/*`` on application hosts.
- ``bridge``: call that ASGI app with one buffered request (for non-ASGI listeners).
- ``middleware``: the gate in front of any ASGI app (reference wiring, used by tests).
"""
