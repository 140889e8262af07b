"""Offline explorer rollouts: `s2lpo sample`."""
