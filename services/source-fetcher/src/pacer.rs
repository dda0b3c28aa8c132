//! The source's polite rate across every replica: each request waits for a slot
//! reserved through ingestion-control (`AcquirePermit`). If ingestion-control cannot
//! be reached the process falls back to pacing itself alone, which is never faster
//! than the configured rate for this replica.

use crate::control_client::ControlClient;
use ingestion_proto::v1;
use platform::Source;
use sources::{LocalPacer, RequestPacer};
use std::time::Duration;

pub struct SharedPacer {
    pub control: ControlClient,
    pub source: Source,
    pub requests_per_second: f64,
    pub fallback: LocalPacer,
}

#[async_trait::async_trait]
impl RequestPacer for SharedPacer {
    async fn wait_turn(&self) {
        let req = v1::AcquirePermitRequest {
            source: self.source.to_proto() as i32,
            requests_per_second: self.requests_per_second,
        };
        match self
            .control
            .call("AcquirePermit", |mut c| async move {
                c.acquire_permit(req).await
            })
            .await
        {
            Ok(permit) => {
                if permit.wait_ms > 0 {
                    tokio::time::sleep(Duration::from_millis(u64::from(permit.wait_ms))).await;
                }
            }
            Err(status) => {
                tracing::warn!(code = ?status.code(), "shared rate limit unavailable; pacing this replica alone");
                self.fallback.wait_turn().await;
            }
        }
    }
}
