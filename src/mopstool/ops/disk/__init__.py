"""disk operations."""
