//! One SSE watcher: reads `event: run` snapshots and remembers when each
//! `pages_done` arrived.

use std::time::Instant;
use tokio::sync::{mpsc, watch};

/// Splits complete events (`\n\n`-terminated) off `buf`; returns each `pages_done`.
fn take_events(buf: &mut String) -> Vec<u32> {
    let mut pages = Vec::new();
    while let Some(end) = buf.find("\n\n") {
        let event: String = buf.drain(..end + 2).collect();
        for line in event.lines() {
            if let Some(data) = line.strip_prefix("data:")
                && let Ok(v) = serde_json::from_str::<serde_json::Value>(data.trim())
                && let Some(p) = v["pages_done"].as_u64()
            {
                pages.push(p as u32);
            }
        }
    }
    pages
}

/// Watches `url` until `stop`; reports on `ready` once the first snapshot arrived
/// (`true`) or the request failed (`false`). Returns (run, pages_done, arrival).
pub async fn watch(
    client: reqwest::Client,
    url: String,
    token: String,
    run: usize,
    ready: mpsc::Sender<bool>,
    mut stop: watch::Receiver<bool>,
) -> Vec<(usize, u32, Instant)> {
    let mut seen = Vec::new();
    let mut resp = match client.get(&url).bearer_auth(&token).send().await {
        Ok(r) if r.status().is_success() => r,
        _ => {
            let _ = ready.send(false).await;
            return seen;
        }
    };
    let mut buf = String::new();
    let mut first = true;
    loop {
        let chunk = tokio::select! {
            c = resp.chunk() => c,
            _ = stop.changed() => break,
        };
        let Ok(Some(bytes)) = chunk else { break };
        let at = Instant::now();
        buf.push_str(&String::from_utf8_lossy(&bytes));
        for pages in take_events(&mut buf) {
            if first {
                first = false;
                let _ = ready.send(true).await;
            }
            seen.push((run, pages, at));
        }
    }
    if first {
        let _ = ready.send(false).await;
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_events_and_keeps_partial_ones() {
        let mut buf = String::from(
            "event: run\ndata: {\"pages_done\":3}\n\n: keep-alive\n\nevent: run\ndata: {\"pages_",
        );
        assert_eq!(take_events(&mut buf), vec![3]);
        buf.push_str("done\":4}\n\n");
        assert_eq!(take_events(&mut buf), vec![4]);
        assert!(buf.is_empty());
    }
}
