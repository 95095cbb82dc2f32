"""pstamp operations."""
