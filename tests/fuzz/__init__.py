"""Fuzzing every RPC of the router and of a provider with mutated and random requests (R24, R28, S3)."""
