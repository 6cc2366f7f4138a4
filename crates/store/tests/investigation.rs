//! Investigation logs and their audit trail, on both engines.

mod common;

use common::{assert_not_found, audit_row, db};
use palisade_store::{LogKind, NewLogRow, UserMatch};

fn log(id: &str, user: &str, at: i64) -> NewLogRow {
    NewLogRow {
        id: id.into(),
        user_key: user.into(),
        upn_key: format!("{user}@x.example"),
        created_at: at,
        doc: format!("{{\"id\":\"{id}\"}}"),
    }
}

#[tokio::test]
async fn logs_are_kept_once_per_workspace_and_read_newest_first() {
    let db = db().await;
    let (a, b) = (db.org("A").await, db.org("B").await);
    let (ta, tb) = (db.tenant(&a), db.tenant(&b));
    let rows = [
        log("1", "u", 10),
        log("2", "u", 30),
        log("3", "u", 30),
        log("4", "v", 20),
    ];
    assert_eq!(
        ta.insert_logs(&a.ws, LogKind::SignIn, &rows, 99)
            .await
            .unwrap(),
        4
    );
    // Re-sent items are skipped; the same ids in another workspace are new.
    assert_eq!(
        ta.insert_logs(&a.ws, LogKind::SignIn, &rows[..2], 99)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        tb.insert_logs(&b.ws, LogKind::SignIn, &rows, 99)
            .await
            .unwrap(),
        4
    );
    assert_not_found(tb.insert_logs(&a.ws, LogKind::SignIn, &rows, 99).await);
    let page = |after| async move {
        ta.query_logs(
            &a.ws,
            LogKind::SignIn,
            UserMatch::ObjectId,
            "u",
            0,
            100,
            after,
            2,
        )
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect::<Vec<_>>()
    };
    assert_eq!(page(None).await, ["3", "2"]);
    assert_eq!(page(Some((30, "2"))).await, ["1"]);
    let by_upn = ta
        .query_logs(
            &a.ws,
            LogKind::SignIn,
            UserMatch::PrincipalName,
            "v@x.example",
            0,
            100,
            None,
            10,
        )
        .await
        .unwrap();
    assert_eq!(by_upn.len(), 1);
    // The directory log is another table.
    assert!(ta
        .query_logs(
            &a.ws,
            LogKind::Directory,
            UserMatch::ObjectId,
            "u",
            0,
            100,
            None,
            10
        )
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn the_audit_trail_pages_newest_first_within_the_workspace() {
    let db = db().await;
    let (a, b) = (db.org("A").await, db.org("B").await);
    let (ta, tb) = (db.tenant(&a), db.tenant(&b));
    let entry = |at: i64| audit_row(a.ws.uuid(), at);
    let (e1, e2, e3) = (entry(1), entry(2), entry(3));
    for e in [&e1, &e2, &e3] {
        ta.insert_investigation_audit(&a.ws, e).await.unwrap();
    }
    assert_not_found(tb.insert_investigation_audit(&a.ws, &e1).await);
    let first = ta.list_investigation_audit(&a.ws, None, 2).await.unwrap();
    assert_eq!(
        first.iter().map(|r| r.id).collect::<Vec<_>>(),
        [e3.id, e2.id]
    );
    let rest = ta
        .list_investigation_audit(&a.ws, Some((2, e2.id)), 2)
        .await
        .unwrap();
    assert_eq!(rest.iter().map(|r| r.id).collect::<Vec<_>>(), [e1.id]);
    assert!(tb
        .list_investigation_audit(&b.ws, None, 10)
        .await
        .unwrap()
        .is_empty());
}
