// `sqlx::migrate!` embeds the migrations at compile time, but cargo does not know to
// rebuild when one is added: without this a new migration file is silently left out
// of an incremental build (what `sqlx migrate build-script` generates).
fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
