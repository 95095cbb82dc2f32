"""nightly operations."""
