-- One row per speed reading. Times are UTC with microseconds; speeds are DOUBLE end to end.
-- reading_id uses a binary NO PAD collation (MariaDB) so that client ids are compared exactly,
-- trailing spaces included.
CREATE TABLE speed_data (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    speed DOUBLE NOT NULL,
    `timestamp` DATETIME(6) NOT NULL,
    received_at DATETIME(6) NOT NULL DEFAULT (UTC_TIMESTAMP(6)),
    connection_id CHAR(36) NULL,
    source VARCHAR(8) NOT NULL DEFAULT 'ws',
    reading_id VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NULL,
    UNIQUE KEY speed_data_reading_id_key (reading_id),
    KEY speed_data_timestamp_idx (`timestamp`),
    KEY speed_data_connection_id_timestamp_idx (connection_id, `timestamp`)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
