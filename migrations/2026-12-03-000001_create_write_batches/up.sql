-- One row per committed batch of readings, written in the same transaction. A batch whose
-- commit acknowledgement was lost (connection cut at the wrong moment) is retried with the same
-- batch_id; the retry then fails on this primary key and is known to be stored already, so a
-- retry never stores a reading twice. Rows older than an hour are pruned.
CREATE TABLE write_batches (
    batch_id CHAR(36) CHARACTER SET ascii NOT NULL PRIMARY KEY,
    committed_at DATETIME(6) NOT NULL DEFAULT (UTC_TIMESTAMP(6)),
    KEY write_batches_committed_at_idx (committed_at)
) ENGINE = InnoDB;
