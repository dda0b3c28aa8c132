//! Compiles `ingestion/v1/*.proto` with protox (pure Rust), so a fresh clone needs no protoc.
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let proto_file = manifest.join("ingestion/v1/ingestion.proto");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    println!("cargo:rerun-if-changed={}", proto_file.display());

    let fds = protox::compile([&proto_file], [&manifest])?;
    // compile_fds() ignores file_descriptor_set_path(): write the set for reflection ourselves.
    use protox::prost::Message as _;
    std::fs::write(
        out_dir.join("ingestion_descriptor.bin"),
        fds.encode_to_vec(),
    )?;
    tonic_prost_build::configure().compile_fds(fds)?;
    Ok(())
}
