//! The `ingestion.v1` gRPC contract, generated once for every service.

#![allow(clippy::all, clippy::pedantic)]

pub mod v1 {
    tonic::include_proto!("ingestion.v1");
}

/// Encoded descriptor set, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("ingestion_descriptor");
