-- Gatehouse store, migration 14 (both backends): the files of each system's latest import.
--
-- A nightly re-import usually differs from the last one in a few rows. Keeping the files that
-- import read (LZ4-compressed) lets the next one compare them record by record with the new
-- files and read only the records that differ. This is a cache, not state: it is written
-- beside the import, is not derived from the events, and `ledger verify` does not compare it.
-- It is used only while the file's SHA-256 is the one the import recorded (in `import`) and
-- nothing else has changed the system since; deleting its rows only makes the next import read
-- every record again. `last_seq` is the last event when the files were kept: an event after it
-- that concerns the system makes them stale. `format` is the version of the reading of records
-- that read them: kept files read by another version are not compared (their records would
-- not be read again, and the new version might read them differently).
CREATE TABLE import_memory (
    source      TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    import_seq  INTEGER NOT NULL,
    last_seq    INTEGER NOT NULL,
    format      INTEGER NOT NULL,
    sha256      TEXT    NOT NULL,
    size        INTEGER NOT NULL,
    content     BLOB    NOT NULL,
    PRIMARY KEY (source, name)
);
