"""demo operations."""
