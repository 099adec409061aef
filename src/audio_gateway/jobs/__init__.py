"""Async audio jobs: SAQ on Redis runs them, S3 holds inputs and results."""
