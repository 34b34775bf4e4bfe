"""HTTP plumbing shared by the faces (API and portal): guards, limits, headers, listener."""
