//! Connectors and their volume, on both engines.

mod common;

use common::{assert_not_found, connector, db};
use palisade_domain::Error;
use palisade_store::IngestVolume;
use uuid::Uuid;

const HOUR: i64 = 3_600_000_000;

#[tokio::test]
async fn one_ingest_fed_connector_per_kind_and_workspace() {
    let db = db().await;
    let (a, b) = (db.org("A").await, db.org("B").await);
    let (ta, tb) = (db.tenant(&a), db.tenant(&b));
    let first = ta
        .create_connector(&a.ws, &connector("Splunk", true))
        .await
        .unwrap();
    assert!(matches!(
        ta.create_connector(&a.ws, &connector("Splunk", true)).await,
        Err(Error::Conflict(_))
    ));
    // Not ingest-fed: any number; other organizations have their own.
    ta.create_connector(&a.ws, &connector("Custom", false))
        .await
        .unwrap();
    ta.create_connector(&a.ws, &connector("Custom", false))
        .await
        .unwrap();
    tb.create_connector(&b.ws, &connector("Splunk", true))
        .await
        .unwrap();
    let list = ta.list_connectors(&a.ws).await.unwrap();
    assert_eq!(list.len(), 3);
    assert_eq!(list[0].id, first.id, "oldest first");
    assert_not_found(tb.list_connectors(&a.ws).await);
    assert!(tb.get_connector(&b.ws, first.id).await.unwrap().is_none());
    assert!(tb
        .update_connector(&b.ws, first.id, &connector("QRadar", true))
        .await
        .unwrap()
        .is_none());
    assert!(!tb.delete_connector(&b.ws, first.id).await.unwrap());
    assert_eq!(
        ta.get_connector(&a.ws, first.id)
            .await
            .unwrap()
            .unwrap()
            .connector_type,
        "Splunk"
    );
}

#[tokio::test]
async fn volume_adds_up_per_hour_and_stays_with_its_connector() {
    let db = db().await;
    let (a, b) = (db.org("A").await, db.org("B").await);
    let (ta, tb) = (db.tenant(&a), db.tenant(&b));
    let c = ta
        .create_connector(&a.ws, &connector("Splunk", true))
        .await
        .unwrap();
    // Entries of one hour are summed, also across calls.
    assert!(ta
        .record_volume(
            &a.ws,
            c.id,
            &[(HOUR, 10, 100), (HOUR, 5, 50), (2 * HOUR, 1, 1)]
        )
        .await
        .unwrap());
    assert!(ta
        .record_volume(&a.ws, c.id, &[(HOUR, 1, 1)])
        .await
        .unwrap());
    // Another organization cannot add to it, even naming its own workspace.
    assert!(!tb
        .record_volume(&b.ws, c.id, &[(HOUR, 1000, 1000)])
        .await
        .unwrap());
    assert!(!ta
        .record_volume(&a.ws, Uuid::new_v4(), &[(HOUR, 1, 1)])
        .await
        .unwrap());
    let rows = ta.volume(&a.ws, Some(c.id), 0, 3 * HOUR).await.unwrap();
    let got: Vec<(i64, i64, i64)> = rows
        .iter()
        .map(|r| (r.hour_start, r.events, r.bytes))
        .collect();
    assert_eq!(got, [(HOUR, 16, 151), (2 * HOUR, 1, 1)]);
    assert_eq!(
        ta.volume(&a.ws, None, 2 * HOUR, 3 * HOUR)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(tb
        .volume(&b.ws, None, 0, 3 * HOUR)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(ta.first_volume_hours(&a.ws).await.unwrap()[&c.id], HOUR);
    // Deleting the connector deletes its volume.
    assert!(ta.delete_connector(&a.ws, c.id).await.unwrap());
    assert!(ta
        .volume(&a.ws, None, 0, 3 * HOUR)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn counted_ingest_creates_the_connector_once() {
    let db = db().await;
    let a = db.org("A").await;
    let ta = db.tenant(&a);
    let v = IngestVolume {
        defaults: connector("Sentinel", true),
        hour_start: HOUR,
        events: 3,
        bytes: 30,
    };
    ta.count_ingest(&a.ws, &v).await.unwrap();
    ta.count_ingest(&a.ws, &v).await.unwrap();
    let list = ta.list_connectors(&a.ws).await.unwrap();
    assert_eq!(list.len(), 1);
    assert!(list[0].auto_created && list[0].connected);
    let rows = ta
        .volume(&a.ws, Some(list[0].id), 0, 2 * HOUR)
        .await
        .unwrap();
    assert_eq!((rows[0].events, rows[0].bytes), (6, 60));
}
