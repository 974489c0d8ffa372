//! Rebuilds the crate when a migration is added: `sqlx::migrate!` embeds `migrations/` at
//! compile time but only tracks the files that existed at the last build.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
