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
