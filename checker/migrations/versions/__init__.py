"""Schema revisions of the history store, oldest first (see `down_revision`)."""
