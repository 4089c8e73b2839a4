"""Recordings -> RAVE database: find and decode the raw recordings (recordings), account for every second
(accounting), check the disk (disk), run `rave preprocess` once per change (dataset) and stage the database
on a node's local disk (stage). RAVE's database format itself (reader and writer) is safeio/database.py."""
