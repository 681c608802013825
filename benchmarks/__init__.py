"""Prizm's benchmarks: the router against the direct call and nginx, as ratios measured in one run."""
