"""The embedded SQLite backend: one directory file and N message shard files, WAL mode."""
