"""Test support: servers as subprocesses and waiting on the mesh."""
