//! Cross-workspace paging: random data sets over several workspaces and sources, random
//! filters, paged to the end — the union equals the filtered set, no duplicates, global
//! newest-first order; bad tokens and changed filters are refused.

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use palisade_test_utils::{Cred, TestApp, SOURCES};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use uuid::Uuid;

const SEVERITIES: [&str; 4] = ["Informational", "Low", "Medium", "High"];
const STATUSES: [&str; 3] = ["New", "Active", "Closed"];
const OWNERS: [Option<&str>; 4] = [
    None,
    Some("ana@contoso.com"),
    Some("ben@contoso.com"),
    Some("cy@fabrikam.com"),
];
const WORDS: [&str; 6] = [
    "phishing",
    "malware",
    "ransomware",
    "sign-in",
    "exfiltration",
    "beacon",
];

#[derive(Debug, Clone)]
struct Gen {
    ws: Uuid,
    source: &'static str,
    id: String,
    number: i64,
    title: String,
    severity: &'static str,
    status: &'static str,
    owner: Option<&'static str>,
    created_at: DateTime<Utc>,
}

/// The first source named in a workspace's `sourceTokens`.
fn first_source(workspace_tokens: &Value) -> String {
    let sources = workspace_tokens["sourceTokens"].as_object().unwrap();
    sources.keys().next().unwrap().clone()
}

fn minutes_away_from_boundaries(m: i64) -> bool {
    [24 * 60, 7 * 24 * 60, 30 * 24 * 60]
        .iter()
        .all(|b| (m - b).abs() > 15)
}

async fn seed(
    app: &TestApp,
    cred: &Cred,
    workspaces: &[Uuid],
    rng: &mut StdRng,
    n: usize,
) -> Vec<Gen> {
    let now = Utc::now();
    let mut out = Vec::new();
    let mut tie: Option<DateTime<Utc>> = None;
    for i in 0..n {
        let ws = workspaces[rng.gen_range(0..workspaces.len())];
        // Only four of the six sources get data, so empty streams exist too.
        let source = SOURCES[rng.gen_range(0..4)];
        let created_at = match tie {
            Some(t) if rng.gen_bool(0.3) => t,
            _ => loop {
                let m = rng.gen_range(1..40 * 24 * 60);
                if minutes_away_from_boundaries(m) {
                    break now - Duration::minutes(m);
                }
            },
        };
        tie = Some(created_at);
        let title = format!(
            "{} {} #{i}",
            WORDS[rng.gen_range(0..WORDS.len())],
            WORDS[rng.gen_range(0..WORDS.len())]
        );
        out.push(Gen {
            ws,
            source,
            id: format!("INC-{i:04}"),
            number: 0,
            title,
            severity: SEVERITIES[rng.gen_range(0..4)],
            status: STATUSES[rng.gen_range(0..3)],
            owner: OWNERS[rng.gen_range(0..4)],
            created_at,
        });
    }
    for ws in workspaces {
        for source in SOURCES {
            let items: Vec<Value> = out
                .iter()
                .filter(|g| g.ws == *ws && g.source == source)
                .map(|g| {
                    let mut v = json!({"id": g.id, "title": g.title, "severity": g.severity, "status": g.status,
                                       "createdAt": g.created_at.to_rfc3339()});
                    if let Some(o) = g.owner {
                        v["owner"] = json!({"email": o});
                    }
                    v
                })
                .collect();
            if items.is_empty() {
                continue;
            }
            let r = app
                .post(
                    &format!("/api/v2/workspaces/{ws}/incidents/{source}/ingest"),
                    Some(cred),
                    &json!({"incidents": items}),
                )
                .await;
            assert_eq!(r.status, 200, "{}", r.text);
            assert_eq!(r.data()["rejected"], 0, "{}", r.text);
            for item in r.data()["items"].as_array().unwrap() {
                let id = item["id"].as_str().unwrap();
                let g = out.iter_mut().find(|g| g.id == id).unwrap();
                g.number = item["number"].as_i64().unwrap();
            }
        }
    }
    out
}

/// Pages to the end; returns the keys in order and the number of pages.
async fn page_all(
    app: &TestApp,
    cred: &Cred,
    filters: &Value,
) -> (Vec<(String, String, String)>, usize) {
    let mut body = filters.clone();
    body["isFirstCall"] = json!(true);
    body["workspacePageTokens"] = json!([]);
    let mut keys = Vec::new();
    let mut pages = 0;
    loop {
        let r = app
            .post("/api/v2/incidents/across-workspaces", Some(cred), &body)
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        pages += 1;
        assert!(pages < 500, "paging does not end");
        for i in r.data()["incidents"].as_array().unwrap() {
            keys.push((
                i["workspaceId"].as_str().unwrap().to_string(),
                i["source"].as_str().unwrap().to_string(),
                i["id"].as_str().unwrap().to_string(),
            ));
        }
        if !r.data()["moreIncidentsAvailable"].as_bool().unwrap() {
            assert_eq!(
                r.data()["sourcePageTokens"],
                json!([]),
                "no tokens once done"
            );
            break;
        }
        body["isFirstCall"] = json!(false);
        body["workspacePageTokens"] = r.data()["sourcePageTokens"].clone();
    }
    (keys, pages)
}

fn expected(data: &[Gen], visible: &[Uuid], f: &Value) -> Vec<(String, String, String)> {
    let now = Utc::now();
    let list = |k: &str| -> Option<Vec<String>> {
        f.get(k)
            .and_then(|v| v.as_array())
            .filter(|a| !a.is_empty())
            .map(|a| {
                a.iter()
                    .map(|x| x.as_str().unwrap().to_lowercase())
                    .collect()
            })
    };
    let since = match f["timeFilterSelection"]["type"].as_str() {
        Some("TwentyFourHours") => Some(now - Duration::hours(24)),
        Some("SevenDays") => Some(now - Duration::days(7)),
        Some("ThirtyDays") => Some(now - Duration::days(30)),
        Some("Custom") => Some(
            DateTime::parse_from_rfc3339(
                f["timeFilterSelection"]["customStartUtc"].as_str().unwrap(),
            )
            .unwrap()
            .with_timezone(&Utc),
        ),
        _ => None,
    };
    let until = (f["timeFilterSelection"]["type"] == "Custom").then(|| {
        DateTime::parse_from_rfc3339(f["timeFilterSelection"]["customEndUtc"].as_str().unwrap())
            .unwrap()
            .with_timezone(&Utc)
    });
    let mut rows: Vec<&Gen> = data
        .iter()
        .filter(|g| visible.contains(&g.ws))
        .filter(|g| list("sources").is_none_or(|l| l.contains(&g.source.to_lowercase())))
        .filter(|g| list("severities").is_none_or(|l| l.contains(&g.severity.to_lowercase())))
        .filter(|g| list("statuses").is_none_or(|l| l.contains(&g.status.to_lowercase())))
        .filter(|g| since.is_none_or(|s| g.created_at >= s))
        .filter(|g| until.is_none_or(|u| g.created_at <= u))
        .filter(|g| {
            f["query"].as_str().is_none_or(|q| {
                let q = q.to_lowercase();
                g.title.to_lowercase().contains(&q)
                    || g.id.to_lowercase() == q
                    || q.parse::<i64>().ok() == Some(g.number)
            })
        })
        .filter(|g| {
            let unassigned = f["includeUnassigned"].as_bool().unwrap_or(false);
            match list("assigneeEmails") {
                Some(l) => match g.owner {
                    Some(o) => l.contains(&o.to_lowercase()),
                    None => unassigned,
                },
                // Alone, `includeUnassigned` keeps only incidents without an owner.
                None => !unassigned || g.owner.is_none(),
            }
        })
        .collect();
    rows.sort_by(|a, b| {
        (
            b.created_at.timestamp_micros(),
            b.ws.to_string(),
            b.source,
            &b.id,
        )
            .cmp(&(
                a.created_at.timestamp_micros(),
                a.ws.to_string(),
                a.source,
                &a.id,
            ))
    });
    rows.iter()
        .map(|g| (g.ws.to_string(), g.source.to_string(), g.id.clone()))
        .collect()
}

fn random_filters(rng: &mut StdRng) -> Value {
    let mut f = json!({});
    let pick = |rng: &mut StdRng, from: &[&str]| -> Vec<String> {
        from.iter()
            .filter(|_| rng.gen_bool(0.5))
            .map(|s| s.to_string())
            .collect()
    };
    if rng.gen_bool(0.4) {
        f["severities"] = json!(pick(rng, &SEVERITIES));
    }
    if rng.gen_bool(0.4) {
        f["statuses"] = json!(pick(rng, &STATUSES));
    }
    if rng.gen_bool(0.4) {
        // Lowercase on purpose: sources are accepted in any letter case.
        f["sources"] = json!(pick(rng, &SOURCES)
            .iter()
            .map(|s| s.to_lowercase())
            .collect::<Vec<_>>());
    }
    match rng.gen_range(0..5) {
        0 => f["timeFilterSelection"] = json!({"type": "TwentyFourHours"}),
        1 => f["timeFilterSelection"] = json!({"type": "SevenDays"}),
        2 => f["timeFilterSelection"] = json!({"type": "ThirtyDays"}),
        3 => {
            let now = Utc::now();
            f["timeFilterSelection"] = json!({"type": "Custom",
                "customStartUtc": (now - Duration::days(20)).to_rfc3339(),
                "customEndUtc": (now - Duration::days(2)).to_rfc3339()});
        }
        _ => {}
    }
    if rng.gen_bool(0.3) {
        f["query"] = json!(WORDS[rng.gen_range(0..WORDS.len())].to_uppercase());
    }
    if rng.gen_bool(0.3) {
        f["assigneeEmails"] = json!(["ANA@contoso.com", "cy@fabrikam.com"]);
        f["includeUnassigned"] = json!(rng.gen_bool(0.5));
    } else if rng.gen_bool(0.15) {
        f["includeUnassigned"] = json!(true);
    }
    f
}

#[tokio::test]
async fn random_data_and_filters_page_to_exactly_the_filtered_set() {
    let app = TestApp::spawn_with(|c| c.incidents.page_size = 7).await;
    let org = app.org("Paging").await;
    let mut workspaces = Vec::new();
    for i in 0..4 {
        workspaces.push(app.workspace(&org, &format!("W{i}")).await);
    }
    let mut rng = StdRng::seed_from_u64(0x5eed_2026);
    let data = seed(&app, &org.admin, &workspaces, &mut rng, 180).await;

    // A member sees only the two workspaces it holds roles on.
    let (member, _) = app
        .service_account(
            &org.admin,
            &json!({"name": "member", "scopes": ["incidents:read"],
                    "workspaceAssignments": [{"workspaceId": workspaces[0], "role": "WorkspaceReader"},
                                             {"workspaceId": workspaces[2], "role": "IncidentAnalyst"}]}),
        )
        .await;

    // Unfiltered, the admin pages through every incident.
    let (all, pages) = page_all(&app, &org.admin, &json!({})).await;
    assert_eq!(all.len(), 180);
    assert!(pages >= 180 / 7);

    let mut filters = vec![
        json!({}),
        json!({"query": "inc-0007"}),
        json!({"query": data[3].number.to_string()}),
    ];
    for _ in 0..10 {
        filters.push(random_filters(&mut rng));
    }
    let mut matched = 0;
    for f in &filters {
        for (cred, visible) in [
            (&org.admin, workspaces.clone()),
            (&member, vec![workspaces[0], workspaces[2]]),
        ] {
            let (got, pages) = page_all(&app, cred, f).await;
            let want = expected(&data, &visible, f);
            let unique: HashSet<_> = got.iter().collect();
            assert_eq!(unique.len(), got.len(), "duplicates with {f}");
            assert_eq!(got, want, "filters {f}");
            matched += want.len();
            assert!(
                pages >= want.len().div_ceil(7),
                "{pages} pages for {} items",
                want.len()
            );
        }
    }
    assert!(
        matched > 300,
        "the random filters matched too little to prove anything: {matched}"
    );
}

#[tokio::test]
async fn bad_tokens_and_changed_filters_are_refused() {
    let app = TestApp::spawn_with(|c| c.incidents.page_size = 3).await;
    let org = app.org("Tokens").await;
    let other = app.org("Other").await;
    let ws = app.workspace(&org, "W").await;
    let other_ws = app.workspace(&other, "OW").await;
    let mut rng = StdRng::seed_from_u64(7);
    seed(&app, &org.admin, &[ws], &mut rng, 20).await;
    seed(&app, &other.admin, &[other_ws], &mut rng, 20).await;

    let first = json!({"isFirstCall": true, "workspacePageTokens": [], "severities": []});
    let r = app
        .post(
            "/api/v2/incidents/across-workspaces",
            Some(&org.admin),
            &first,
        )
        .await;
    assert_eq!(r.data()["moreIncidentsAvailable"], true);
    let tokens = r.data()["sourcePageTokens"].clone();
    let next = |tokens: Value| json!({"isFirstCall": false, "workspacePageTokens": tokens, "severities": []});
    assert_eq!(
        app.post(
            "/api/v2/incidents/across-workspaces",
            Some(&org.admin),
            &next(tokens.clone())
        )
        .await
        .status,
        200
    );

    let source = first_source(&tokens[0]);
    let token = tokens[0]["sourceTokens"][&source]
        .as_str()
        .unwrap()
        .to_string();
    let with = |t: String| {
        let mut x = tokens.clone();
        x[0]["sourceTokens"][&source] = json!(t);
        x
    };
    let mut flipped: Vec<char> = token.chars().collect();
    flipped[10] = if flipped[10] == 'A' { 'B' } else { 'A' };
    let mut moved = tokens.clone();
    moved[0]["workspaceId"] = json!(Uuid::new_v4());
    use base64::Engine;
    let reencoded = base64::engine::general_purpose::STANDARD.encode(
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&token)
            .unwrap(),
    );
    let cases = vec![
        ("tampered", with(flipped.into_iter().collect())),
        ("truncated", with(token[..token.len() - 3].to_string())),
        ("re-encoded", with(reencoded)),
        ("hand-made", with("eyJwb3NpdGlvbiI6MH0".into())),
        ("moved to another workspace", moved),
    ];
    for (what, t) in cases {
        let r = app
            .post(
                "/api/v2/incidents/across-workspaces",
                Some(&org.admin),
                &next(t),
            )
            .await;
        r.assert_problem(400, "VALIDATION_ERROR");
        assert!(
            r.json["detail"]
                .as_str()
                .unwrap()
                .starts_with("One or more pagination tokens are invalid."),
            "{what}"
        );
    }
    // Another organization's tokens, presented by this organization.
    let r = app
        .post(
            "/api/v2/incidents/across-workspaces",
            Some(&other.admin),
            &first,
        )
        .await;
    let foreign = r.data()["sourcePageTokens"].clone();
    app.post(
        "/api/v2/incidents/across-workspaces",
        Some(&org.admin),
        &next(foreign.clone()),
    )
    .await
    .assert_problem(400, "VALIDATION_ERROR");
    // ...and this organization's tokens presented by the other one.
    app.post(
        "/api/v2/incidents/across-workspaces",
        Some(&other.admin),
        &next(tokens.clone()),
    )
    .await
    .assert_problem(400, "VALIDATION_ERROR");
    // Changed filters with old tokens.
    let mut changed = next(tokens.clone());
    changed["severities"] = json!(["High"]);
    app.post(
        "/api/v2/incidents/across-workspaces",
        Some(&org.admin),
        &changed,
    )
    .await
    .assert_problem(400, "VALIDATION_ERROR");
    // Bad filter values are validation errors too.
    let r = app
        .post(
            "/api/v2/incidents/across-workspaces",
            Some(&org.admin),
            &json!({"sources": ["Elastic"], "timeFilterSelection": {"type": "Custom"}}),
        )
        .await;
    r.assert_problem(400, "VALIDATION_ERROR");
    assert!(r.json["errors"]["sources[0]"].is_array());
    assert!(r.json["errors"]["timeFilterSelection.customStartUtc"].is_array());
}

/// A continuation call sends back one token per live workspace × source stream: at a thousand
/// workspaces and more that is over the general 1 MiB body limit, so the listing has its own
/// (16 MiB). Here the tokens of one page are repeated past 2 MiB (repeats are harmless: each
/// stream is continued once).
#[tokio::test]
async fn continuation_calls_may_carry_megabytes_of_tokens() {
    let app = TestApp::spawn_with(|c| c.incidents.page_size = 3).await;
    let org = app.org("Large").await;
    let ws = app.workspace(&org, "W").await;
    let mut rng = StdRng::seed_from_u64(11);
    seed(&app, &org.admin, &[ws], &mut rng, 12).await;
    let path = "/api/v2/incidents/across-workspaces";
    let r = app
        .post(
            path,
            Some(&org.admin),
            &json!({"isFirstCall": true, "workspacePageTokens": []}),
        )
        .await;
    let tokens = r.data()["sourcePageTokens"].as_array().unwrap().clone();
    assert!(!tokens.is_empty());
    let next = |tokens: Vec<Value>| json!({"isFirstCall": false, "workspacePageTokens": tokens});
    let expected = app
        .post(path, Some(&org.admin), &next(tokens.clone()))
        .await;
    assert_eq!(expected.status, 200, "{}", expected.text);
    let one = serde_json::to_string(&tokens).unwrap().len();
    let big: Vec<Value> = tokens
        .iter()
        .cycle()
        .take(tokens.len() * (3 * 1024 * 1024 / one))
        .cloned()
        .collect();
    let body = next(big);
    let size = serde_json::to_string(&body).unwrap().len();
    assert!(
        size > 2 * 1024 * 1024,
        "{size} bytes from {one} per {} entries",
        tokens.len()
    );
    let r = app.post(path, Some(&org.admin), &body).await;
    assert_eq!(r.status, 200, "{}", &r.text[..r.text.len().min(300)]);
    assert_eq!(r.data()["incidents"], expected.data()["incidents"]);
    // The listing's own limit still holds.
    let huge = json!({"isFirstCall": false, "workspacePageTokens": [], "query": "x".repeat(17 * 1024 * 1024)});
    app.post(path, Some(&org.admin), &huge)
        .await
        .assert_problem(413, "PAYLOAD_TOO_LARGE");
}

/// Issue 16, item 3: a continuation must send back every token; the end of a listing stays the
/// end; unknown fields are refused by name; `workspaceIds` narrows the listing.
#[tokio::test]
async fn continuations_need_every_token_and_unknown_fields_are_refused() {
    let app = TestApp::spawn_with(|c| c.incidents.page_size = 3).await;
    let org = app.org("Complete").await;
    let (w1, w2, w3) = (
        app.workspace(&org, "W1").await,
        app.workspace(&org, "W2").await,
        app.workspace(&org, "W3").await,
    );
    let mut rng = StdRng::seed_from_u64(21);
    let data = seed(&app, &org.admin, &[w1, w2, w3], &mut rng, 60).await;
    let path = "/api/v2/incidents/across-workspaces";
    let a = &org.admin;
    let r = app.post(path, Some(a), &json!({"isFirstCall": true})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let tokens = r.data()["sourcePageTokens"].as_array().unwrap().clone();
    assert!(tokens.len() >= 2, "{tokens:?}");
    let next = |tokens: Vec<Value>| json!({"isFirstCall": false, "workspacePageTokens": tokens});

    // One workspace's tokens left out: refused, naming that workspace's streams.
    let left_out = tokens[0]["workspaceId"].as_str().unwrap().to_string();
    let r = app.post(path, Some(a), &next(tokens[1..].to_vec())).await;
    r.assert_problem(400, "VALIDATION_ERROR");
    let messages = r.json["errors"]["workspacePageTokens"].to_string();
    let source = first_source(&tokens[0]);
    assert!(
        messages.contains(&format!("workspace {left_out}, source {source}")),
        "{messages}"
    );
    assert!(
        r.json["detail"].as_str().unwrap().contains(&left_out),
        "{}",
        r.text
    );
    // One stream's token left out, the workspace's others sent.
    let mut one_less = tokens.clone();
    one_less[0]["sourceTokens"]
        .as_object_mut()
        .unwrap()
        .remove(&source);
    let r = app.post(path, Some(a), &next(one_less)).await;
    r.assert_problem(400, "VALIDATION_ERROR");
    assert!(
        r.json["errors"]["workspacePageTokens"]
            .to_string()
            .contains(&format!("workspace {left_out}, source {source}")),
        "{}",
        r.text
    );
    // Every token, repeated or reordered: fine.
    let mut all = tokens.clone();
    all.reverse();
    all.extend(tokens.clone());
    assert_eq!(app.post(path, Some(a), &next(all)).await.status, 200);

    // Paging to the end, each continuation with the previous tokens, then once more with the
    // last (empty) token set: the end stays the end.
    let (keys, _) = page_all(&app, a, &json!({})).await;
    assert_eq!(keys.len(), data.len());
    let r = app.post(path, Some(a), &next(Vec::new())).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.data()["incidents"], json!([]));
    assert_eq!(r.data()["moreIncidentsAvailable"], false);

    // Unknown fields are refused by name, at the top and inside.
    for (body, field) in [
        (json!({"severity": "High"}), "severity"),
        (json!({"workspaceId": w1}), "workspaceId"),
        (
            json!({"timeFilterSelection": {"type": "SevenDays", "customStart": "x"}}),
            "timeFilterSelection.customStart",
        ),
        (
            json!({"isFirstCall": false, "workspacePageTokens": [{"workspaceId": w1, "tokens": {}}]}),
            "workspacePageTokens[0].tokens",
        ),
    ] {
        let r = app.post(path, Some(a), &body).await;
        r.assert_problem(400, "VALIDATION_ERROR");
        assert!(r.json["errors"][field].is_array(), "{field}: {}", r.text);
        assert!(
            r.json["errors"][field].to_string().contains(", expected "),
            "names the known fields: {}",
            r.text
        );
    }

    // workspaceIds: only those workspaces, paged to the end; empty or malformed refused.
    let (keys, _) = page_all(&app, a, &json!({"workspaceIds": [w2, w3]})).await;
    let want = data.iter().filter(|g| g.ws != w1).count();
    assert_eq!(keys.len(), want);
    assert!(keys.iter().all(|(ws, _, _)| *ws != w1.to_string()));
    // A workspace of another organization, or one without a role, is left out silently.
    let other = app.org("Other").await;
    let foreign = app.workspace(&other, "Theirs").await;
    let (keys, _) = page_all(&app, a, &json!({"workspaceIds": [w1, foreign]})).await;
    assert_eq!(keys.len(), data.iter().filter(|g| g.ws == w1).count());
    for bad in [json!([]), json!(["not-a-guid"])] {
        let r = app.post(path, Some(a), &json!({"workspaceIds": bad})).await;
        r.assert_problem(400, "VALIDATION_ERROR");
        assert!(r.text.contains("workspaceIds"), "{}", r.text);
    }
    // Tokens are bound to the filter: another workspaceIds with old tokens is refused.
    let r = app
        .post(
            path,
            Some(a),
            &json!({"isFirstCall": true, "workspaceIds": [w1, w2]}),
        )
        .await;
    let mut changed = next(r.data()["sourcePageTokens"].as_array().unwrap().clone());
    changed["workspaceIds"] = json!([w1]);
    let r = app.post(path, Some(a), &changed).await;
    r.assert_problem(400, "VALIDATION_ERROR");
    assert!(r.json["detail"]
        .as_str()
        .unwrap()
        .starts_with("One or more pagination tokens are invalid."));
}
