"""Records on disk: their shapes, the single writer and resume, atomic files, the output lock, shards.

``records`` (the NDJSON record shapes, ``to_bytes``/``parse_line``, qualifier normalisation,
``Written`` and the ``RecordSubscriber`` protocol), ``writer`` (``Sink``: the only writer of a records
file, in whole functions, fsynced, publishing each record it accepts to its ``Subscribers``; the
``--resume`` scan), ``atomic_file`` (whole-file-or-nothing replacement, modes kept), ``output_lock``
(one writer per file), ``shard`` (the ``--shard K/N`` hash) and ``merge`` (checking and joining shards).
Imports nothing else of the crawler. Nothing is re-exported here on purpose: the audit and the wire
import ``records`` only, and this ``__init__`` must not load the writer (and anyio) into them.
"""
