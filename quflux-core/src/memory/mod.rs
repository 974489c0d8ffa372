//! In-memory implementations (HELPER-OWNED, being written).
