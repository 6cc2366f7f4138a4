//! Console helpers: users with passwords and a cookie-carrying client that signs in and
//! submits forms with their CSRF token, over plain HTTP (the browser tests use
//! [`crate::webdriver`]).

use palisade_domain::OrgRole;
use palisade_server::admin::{set_user_password, NewConsoleUser};
use reqwest::header::{COOKIE, SET_COOKIE};
use serde_json::json;
use uuid::Uuid;

use crate::{Resp, TestApp, TestOrg};

/// A console user: email and password.
#[derive(Debug, Clone)]
pub struct ConsoleLogin {
    pub id: Uuid,
    pub email: String,
    pub password: String,
}

impl TestApp {
    /// A user of the organization with a console password, holding `role` on `workspace`
    /// (granted through the API by the organization's admin) when given.
    pub async fn console_user(
        &self,
        org: &TestOrg,
        email: &str,
        org_role: OrgRole,
        workspace: Option<(Uuid, &str)>,
    ) -> ConsoleLogin {
        let password = format!("pw-{}", Uuid::new_v4());
        let new = NewConsoleUser {
            display_name: email.split('@').next().unwrap_or(email).to_string(),
            org_role,
        };
        let id = set_user_password(&self.state, org.id, email, &password, Some(new))
            .await
            .expect("set password");
        if let Some((ws, role)) = workspace {
            let r = self
                .post(
                    "/api/v2/users/workspace",
                    Some(&org.admin),
                    &json!({"workspaceId": ws, "role": role, "userIds": [id]}),
                )
                .await;
            assert!(r.status < 300, "grant role: {} {}", r.status, r.text);
        }
        ConsoleLogin {
            id,
            email: email.to_string(),
            password,
        }
    }
}

/// The value of `name="csrf"` in a page.
pub fn csrf_of(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("a form with a CSRF field") + marker.len();
    let end = html[start..].find('"').expect("end of the value") + start;
    html[start..end].to_string()
}

/// A signed-in (or not) console client: keeps the session and pre-session cookies.
pub struct ConsoleClient {
    base: String,
    http: reqwest::Client,
    pub cookies: Vec<(String, String)>,
}

impl ConsoleClient {
    pub fn new(app: &TestApp) -> Self {
        Self::with(app, reqwest::Client::builder())
    }

    /// With a client builder of the caller's (e.g. another local address).
    pub fn with(app: &TestApp, builder: reqwest::ClientBuilder) -> Self {
        ConsoleClient {
            base: app.url(""),
            http: builder
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .build()
                .expect("client"),
            cookies: Vec::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep_cookies(&mut self, r: &reqwest::Response) {
        for v in r.headers().get_all(SET_COOKIE) {
            let Some((pair, _)) = v.to_str().unwrap_or("").split_once(';') else {
                continue;
            };
            if let Some((k, val)) = pair.split_once('=') {
                self.cookies.retain(|(n, _)| n != k);
                if !val.is_empty() {
                    self.cookies.push((k.to_string(), val.to_string()));
                }
            }
        }
    }

    pub async fn get(&mut self, path: &str) -> Resp {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header())
            .send()
            .await
            .expect("GET");
        self.keep_cookies(&r);
        TestApp::read(r).await
    }

    /// Posts a form as it is (no CSRF added).
    pub async fn post_raw(&mut self, path: &str, fields: &[(&str, &str)]) -> Resp {
        let body: String = url_encode(fields);
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .expect("POST");
        self.keep_cookies(&r);
        TestApp::read(r).await
    }

    /// Posts a form with the CSRF token of the page at `page`.
    pub async fn post_form(&mut self, page: &str, path: &str, fields: &[(&str, &str)]) -> Resp {
        let html = self.get(page).await.text;
        let csrf = csrf_of(&html);
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(path, &all).await
    }

    /// Signs in; the answer of the sign-in POST.
    pub async fn sign_in(&mut self, email: &str, password: &str) -> Resp {
        self.post_form(
            "/console/sign-in",
            "/console/sign-in",
            &[
                ("email", email),
                ("password", password),
                ("next", "/console"),
            ],
        )
        .await
    }
}

fn url_encode(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
