"""Tests of the ffmpeg provider's pure modules."""
