"""Records on disk: their shapes, the single writer and resume, atomic files, the output lock, shards.

``records`` (the NDJSON record shapes, ``to_bytes``/``parse_line``, qualifier normalisation),
``writer`` (``Sink``: the only writer of a records file, in whole functions, fsynced; the ``--resume``
scan), ``atomic_file`` (whole-file-or-nothing replacement, modes kept), ``output_lock`` (one writer per
file), ``shard`` (the ``--shard K/N`` hash) and ``merge`` (checking and joining shards). Imports nothing
else of the crawler. Nothing is re-exported here on purpose: the audit imports ``records`` only, and
this ``__init__`` must not load the writer (and anyio) into ``summarize``.
"""
