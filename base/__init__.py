"""What every layer needs and nothing of ours: configuration, atomic writes, the local database."""
