"""runs operations."""
