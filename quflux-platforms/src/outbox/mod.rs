//! Outbox publisher (being written).
