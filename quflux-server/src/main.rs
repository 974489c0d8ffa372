//! The `quflux-server` binary (being written).
fn main() {}
