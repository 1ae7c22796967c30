"""Records on disk: shapes, the single writer, resume, atomic files, shards, merge."""
