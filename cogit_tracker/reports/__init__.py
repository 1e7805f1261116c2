"""What was measured, read back: campaigns and phases fetched from a store (SQL fast path or
REST), the report, comparisons, and charts."""
