use std::path::PathBuf;

use palisade_test_utils::TestApp;

fn committed_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json")
}

/// The committed `docs/openapi.json` must equal the document generated from the code.
/// Regenerate with `UPDATE_OPENAPI=1 cargo test -p palisade-server --test api openapi`
/// (or `palisade openapi > docs/openapi.json`).
#[test]
fn committed_document_matches_the_code() {
    let generated = palisade_server::openapi::document_bytes();
    if std::env::var("UPDATE_OPENAPI").is_ok() {
        std::fs::write(committed_path(), &generated).unwrap();
    }
    let committed = std::fs::read(committed_path()).expect("docs/openapi.json is committed");
    assert!(
        committed == generated,
        "docs/openapi.json drifted from the code; regenerate it with `cargo run -p palisade -- openapi > docs/openapi.json`"
    );
}

#[tokio::test]
async fn document_is_served_and_describes_every_route() {
    let app = TestApp::spawn().await;
    let r = app.get("/api/v2/openapi.json", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json["openapi"], "3.1.1");
    let (_, table) = palisade_server::routes::api().into_parts();
    for route in &table {
        let path = route.doc.documented_path.unwrap_or(route.path);
        let op = &r.json["paths"][path][route.method.as_str().to_ascii_lowercase()];
        assert!(op.is_object(), "{} {} missing", route.method, route.path);
        if let Some(scope) = route.access.scopes().first() {
            assert_eq!(op["x-required-scope"], scope.as_str());
        }
    }
    // Every $ref resolves.
    let text = r.text.clone();
    for part in text.split("\"$ref\": \"#/components/schemas/").skip(1) {
        let name = &part[..part.find('"').unwrap()];
        assert!(
            r.json["components"]["schemas"][name].is_object(),
            "dangling $ref {name}"
        );
    }
}
