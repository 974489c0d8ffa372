//! Conformance suites (HELPER-OWNED, being written).
