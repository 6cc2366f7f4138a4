//! Service tickets: create/replace, link and unlink (idempotent, activity comment with
//! `ticketId`, `ticket.linked` in the outbox), priority, search, validation and 404s.

use palisade_test_utils::TestApp;
use serde_json::json;
use uuid::Uuid;

#[tokio::test]
async fn tickets_link_unlink_priority_and_search() {
    let app = TestApp::spawn().await;
    let org = app.org("Tickets").await;
    let other = app.org("Other").await;
    let a = &org.admin;
    let ws = app.workspace(&org, "W").await;
    let tickets = format!("/api/v2/workspaces/{ws}/tickets");
    let r = app
        .put(
            &format!("/api/v2/workspaces/{ws}/incidents/Sentinel/INC-7"),
            Some(a),
            &json!({"title": "Linked", "severity": "High", "number": 7}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);

    // Create, then replace.
    let body = json!({"ticketId": "JIRA-1", "groupingId": "acme",
        "jiraTicket": {"id": "10001", "summary": "Phish", "number": "SEC-1",
                       "priority": {"id": "3", "name": "Medium"}, "project": {"id": "1", "name": "Security", "key": "SEC"}}});
    let r = app.post(&tickets, Some(a), &body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let t = r.data();
    assert_eq!(t["psa"], "Jira");
    assert_eq!(t["number"], "SEC-1");
    assert_eq!(t["priority"], "Medium");
    assert_eq!(t["groupingId"], "acme");
    assert_eq!(t["jiraTicket"]["project"]["key"], "SEC");
    assert!(t["autotaskTicket"].is_null() && t["serviceNowTicket"].is_null());
    assert_eq!(t["linkedIncidents"], json!([]));
    let r = app.post(&tickets, Some(a), &body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.data()["id"], t["id"]);
    let r = app
        .post(
            &tickets,
            Some(a),
            &json!({"ticketId": "SN-1", "number": "INC0010001", "serviceNowTicket": {"id": "abc", "urgency": "High", "state": "New"}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.data()["priority"], "High");

    // Link: the ticket with its incident; an activity comment with ticketId; ticket.linked.
    let link = json!({"ticketId": "JIRA-1", "incident": {"id": "INC-7", "source": "sentinel", "workspaceId": ws, "number": "7"}});
    let r = app.post(&format!("{tickets}/link"), Some(a), &link).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let li = &r.data()["linkedIncidents"];
    assert_eq!(li.as_array().unwrap().len(), 1);
    assert_eq!(li[0]["id"], "INC-7");
    assert_eq!(li[0]["source"], "Sentinel");
    assert_eq!(li[0]["number"], "7");
    // Idempotent.
    let r = app.post(&format!("{tickets}/link"), Some(a), &link).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.data()["linkedIncidents"].as_array().unwrap().len(), 1);
    let comments = app
        .get(
            &format!("/api/v2/workspaces/{ws}/incidents/Sentinel/INC-7/comments"),
            Some(a),
        )
        .await;
    let with_ticket: Vec<_> = comments
        .data()
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["ticketId"] == "JIRA-1")
        .collect();
    assert_eq!(with_ticket.len(), 1, "{}", comments.text);
    assert_eq!(with_ticket[0]["isActivityComment"], true);
    assert_eq!(
        with_ticket[0]["message"],
        "Service ticket SEC-1 (Jira) linked."
    );
    let linked = app.event_payloads(&org, "ticket.linked").await;
    assert_eq!(linked.len(), 1);
    let d = &linked[0];
    assert_eq!(d["ticketId"], "JIRA-1");
    assert_eq!(d["ticketNumber"], "SEC-1");
    assert_eq!(d["incidentId"], "INC-7");
    assert_eq!(d["incidentNumber"], 7);
    assert_eq!(d["source"], "sentinel");
    assert_eq!(d["psa"], "Jira");

    // Priority: the record and the PSA ticket's own field.
    let r = app
        .put(
            &format!("{tickets}/priority"),
            Some(a),
            &json!({"ticketId": "JIRA-1", "priority": "critical"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.data()["priority"], "Critical");
    assert_eq!(r.data()["jiraTicket"]["priority"]["name"], "Critical");
    let r = app
        .put(
            &format!("{tickets}/priority"),
            Some(a),
            &json!({"ticketId": "JIRA-1", "priority": "Urgent"}),
        )
        .await;
    r.assert_problem(400, "VALIDATION_ERROR");
    assert!(r.json["errors"]["priority"].is_array());

    // Search.
    let search = |q: &str| format!("{tickets}/search?{q}");
    let r = app.get(&search("groupingId=acme"), Some(a)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.data().as_array().unwrap().len(), 1);
    assert_eq!(r.data()[0]["ticketId"], "JIRA-1");
    let r = app.get(&search("ticketNumber=INC0010001"), Some(a)).await;
    assert_eq!(r.data()[0]["ticketId"], "SN-1");
    let r = app
        .get(&search("ticketNumber=SEC-1&groupingId=other"), Some(a))
        .await;
    assert_eq!(r.data(), &json!([]));
    assert_eq!(app.count(&search(""), a).await, 2);

    // Unlink: idempotent, one activity comment.
    for _ in 0..2 {
        let r = app.post(&format!("{tickets}/unlink"), Some(a), &link).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.data(), &json!(true));
    }
    let r = app.get(&search("groupingId=acme"), Some(a)).await;
    assert_eq!(r.data()[0]["linkedIncidents"], json!([]));
    let comments = app
        .get(
            &format!("/api/v2/workspaces/{ws}/incidents/Sentinel/INC-7/comments"),
            Some(a),
        )
        .await;
    let unlinked = comments
        .data()
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["message"] == "Service ticket SEC-1 (Jira) unlinked.")
        .count();
    assert_eq!(unlinked, 1);

    // Validation and 404s.
    let r = app
        .post(
            &tickets,
            Some(a),
            &json!({"ticketId": "X", "jiraTicket": {}, "autotaskTicket": {}}),
        )
        .await;
    r.assert_problem(400, "VALIDATION_ERROR");
    assert!(r.json["errors"][""].is_array(), "{}", r.text);
    let r = app
        .post(
            &tickets,
            Some(a),
            &json!({"autotaskTicket": {"id": "not a number"}}),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    let r = app
        .post(
            &format!("{tickets}/link"),
            Some(a),
            &json!({"incident": {"source": "Nope", "workspaceId": Uuid::new_v4()}}),
        )
        .await;
    r.assert_problem(400, "VALIDATION_ERROR");
    for field in [
        "ticketId",
        "incident.id",
        "incident.source",
        "incident.workspaceId",
    ] {
        assert!(r.json["errors"][field].is_array(), "{field}: {}", r.text);
    }
    let r = app
        .post(
            &format!("{tickets}/link"),
            Some(a),
            &json!({"ticketId": "NOPE", "incident": {"id": "INC-7", "source": "Sentinel"}}),
        )
        .await;
    r.assert_problem(404, "NOT_FOUND");
    assert_eq!(r.json["target"], "ticketId");
    let r = app
        .post(
            &format!("{tickets}/link"),
            Some(a),
            &json!({"ticketId": "JIRA-1", "incident": {"id": "INC-404", "source": "Sentinel"}}),
        )
        .await;
    r.assert_problem(404, "NOT_FOUND");
    app.post(
        &format!("{tickets}/unlink"),
        Some(a),
        &json!({"ticketId": "JIRA-1", "incident": {"id": "INC-404", "source": "Sentinel"}}),
    )
    .await
    .assert_problem(404, "NOT_FOUND");
    app.put(
        &format!("{tickets}/priority"),
        Some(a),
        &json!({"ticketId": "NOPE", "priority": "Low"}),
    )
    .await
    .assert_problem(404, "NOT_FOUND");
    // Another organization: its admin holds no role on this workspace.
    app.get(&search(""), Some(&other.admin))
        .await
        .assert_problem(404, "NOT_FOUND");
    // A reader searches but does not link (scope and role).
    let (reader, _) = app
        .service_account(
            a,
            &json!({"name": "r", "scopes": ["tickets:read"],
                    "workspaceAssignments": [{"workspaceId": ws, "role": "WorkspaceReader"}]}),
        )
        .await;
    assert_eq!(app.get(&search(""), Some(&reader)).await.status, 200);
    app.post(&format!("{tickets}/link"), Some(&reader), &link)
        .await
        .assert_problem(403, "INSUFFICIENT_SCOPE");
    let (reader_manage, _) = app
        .service_account(
            a,
            &json!({"name": "rm", "scopes": ["tickets:manage"],
                    "workspaceAssignments": [{"workspaceId": ws, "role": "WorkspaceReader"}]}),
        )
        .await;
    app.post(&format!("{tickets}/link"), Some(&reader_manage), &link)
        .await
        .assert_problem(403, "INSUFFICIENT_WORKSPACE_ROLE");
    // A workspace with tickets and links can be deleted.
    app.post(&format!("{tickets}/link"), Some(a), &link).await;
    let r = app
        .delete(&format!("/api/v2/workspaces/{ws}"), Some(a))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}
