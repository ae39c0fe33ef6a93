//! What the client logs: readable messages with dotted fields, and never a token, a secret or a row.

use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use audsync_emulator::{DEFAULT_ACCESS_TOKEN, DEFAULT_APP_ID, DEFAULT_APP_SECRET};
use audsync_graph::{AppSecret, SingleKey, UsersSchema};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

use crate::support::{Harness, ad_account, batch, email_rows};

/// Every event and span of `audsync_graph`, as `message field=value ...` lines.
#[derive(Default, Clone)]
struct Capture {
    lines: Arc<Mutex<Vec<String>>>,
    next_span_id: Arc<AtomicU64>,
}

struct Line(String);

impl Visit for Line {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0.push_str(&format!(" {}={value:?}", field.name()));
    }
}

impl Capture {
    fn keep(&self, metadata: &Metadata<'_>, line: Line) {
        if metadata.target().starts_with("audsync_graph") {
            self.lines.lock().unwrap().push(line.0);
        }
    }

    fn text(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, attributes: &Attributes<'_>) -> Id {
        let mut line = Line(format!("span {}", attributes.metadata().name()));
        attributes.record(&mut line);
        self.keep(attributes.metadata(), line);
        Id::from_u64(self.next_span_id.fetch_add(1, Ordering::Relaxed) + 1)
    }

    fn record(&self, _: &Id, values: &Record<'_>) {
        let mut line = Line("record".to_owned());
        values.record(&mut line);
        self.lines.lock().unwrap().push(line.0);
    }

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut line = Line(format!("{}", event.metadata().level()));
        event.record(&mut line);
        self.keep(event.metadata(), line);
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

/// The capture, installed as the global subscriber of this test binary on first use. A
/// per-test (`set_default`) subscriber lost events now and then while other tests ran in
/// parallel (tracing caches per call site whether anyone listens); a global one hears every
/// thread, so the other tests' lines land here too, which only makes the "never a token" checks
/// stronger.
fn capture() -> &'static Capture {
    static CAPTURE: OnceLock<Capture> = OnceLock::new();
    CAPTURE.get_or_init(|| {
        let capture = Capture::default();
        tracing::subscriber::set_global_default(capture.clone())
            .expect("no other global subscriber in this test binary");
        capture
    })
}

#[tokio::test]
async fn logs_carry_codes_and_counts_but_no_token_secret_or_row() {
    let capture = capture();

    let harness = Harness::start().await;
    let client = harness.client_with(|settings| {
        settings.app_id = Some(DEFAULT_APP_ID.to_owned());
        settings.app_secret = Some(AppSecret::new(DEFAULT_APP_SECRET));
    });
    client.debug_token().await.unwrap();
    let audience_id = client
        .create_audience(&ad_account(), "Logged", &Default::default())
        .await
        .unwrap();
    let rows = email_rows(0, 5);
    let users = batch(UsersSchema::SingleKey(SingleKey::EmailSha256), rows.clone());
    harness
        .set_scenario_toml("[[script]]\nfault = \"service-error\"\ntimes = 2\n")
        .await;
    client.add_users(&audience_id, &users, None).await.unwrap();
    harness.add_scenario("flagged-audience").await;
    client
        .add_users(&audience_id, &users, None)
        .await
        .unwrap_err();
    harness.add_scenario("expired-token").await;
    client
        .remove_users(&audience_id, &users, None)
        .await
        .unwrap_err();

    let text = capture.text();
    for expected in [
        "retrying a Graph request",
        "graph.code=2",
        "graph.fbtrace_id=",
        "audience.id=",
        "batch.n_rows=5",
        "duration_ms=",
        "Graph accepted the batch",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    assert!(!text.contains(DEFAULT_ACCESS_TOKEN), "{text}");
    assert!(!text.contains(DEFAULT_APP_SECRET), "{text}");
    assert!(!text.contains("input_token"), "{text}");
    for row in rows {
        assert!(!text.contains(&row[0]), "a row in the log:\n{text}");
    }
}
