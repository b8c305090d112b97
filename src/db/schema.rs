// @generated automatically by Diesel CLI.

diesel::table! {
    speed_data (id) {
        id -> Unsigned<Bigint>,
        speed -> Double,
        timestamp -> Datetime,
        received_at -> Datetime,
        #[max_length = 36]
        connection_id -> Nullable<Char>,
        #[max_length = 8]
        source -> Varchar,
        #[max_length = 64]
        reading_id -> Nullable<Varchar>,
    }
}

diesel::table! {
    write_batches (batch_id) {
        #[max_length = 36]
        batch_id -> Char,
        committed_at -> Datetime,
    }
}

diesel::allow_tables_to_appear_in_same_query!(speed_data, write_batches,);
