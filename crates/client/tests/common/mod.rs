//! Helpers of the tests that run the client against the real server (TestApp); `palisadectl`'s
//! tests include this module too.

#![allow(dead_code)]

use palisade_client::Client;
use palisade_test_utils::{TestApp, TestOrg};

/// A client of `org`'s admin service account on `app`.
pub fn client(app: &TestApp, org: &TestOrg) -> Client {
    Client::new(
        &format!("http://{}", app.addr),
        &org.admin.client_id.to_string(),
        &org.admin.secret,
    )
    .expect("client")
}

/// The app with webhook targets on loopback over plain HTTP allowed (receivers in the test).
pub async fn app_delivering_to_loopback() -> TestApp {
    TestApp::spawn_with(|c| {
        c.webhooks.allow_private_targets = true;
        c.webhooks.allow_http = true;
    })
    .await
}
