"""Storage adapters: SQLAlchemy models, the unit of work, and file blobs."""
