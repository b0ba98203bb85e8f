//! `sqlx::migrate!` embeds the migration files at build time but cannot tell Cargo about a file
//! added to the folder: without this, a new migration would be missing from an incremental build.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
