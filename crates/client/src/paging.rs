//! Streams over every paging style of the API, each a `futures::Stream` of items:
//!
//! | style | operations | stream |
//! |---|---|---|
//! | per-workspace, per-source continuation tokens | `POST /incidents/across-workspaces` | [`Incidents::across`] |
//! | `continuationToken` / `hasMore` | webhook delivery logs, investigation audit | [`Webhooks::log_stream`], [`Investigation::audit_stream`] |
//! | page numbers (`currentPage`, `hasNextPage`) | gamebook history across workspaces | [`Gamebooks::across_history_stream`] |
//! | `NextPageLink` | sign-in and directory logs | [`Investigation::signin_log_stream`], [`Investigation::directory_log_stream`] |
//! | `pageToken` | a workspace's gamebook history | [`Gamebooks::history_stream`] |
//!
//! A stream asks for the next page only when the previous page's items are used up, ends
//! after the last page, and yields an error (then ends) when a page fails.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use futures_core::Stream;
use futures_util::{stream, TryStreamExt};
use palisade_types::gamebooks::Gamebook;
use palisade_types::incidents::{
    AcrossWorkspacesPage, AcrossWorkspacesRequest, IncidentListItem, WorkspacePageTokensInput,
};
use palisade_types::investigation::{DirectoryLog, InvestigationAuditEntry, SignInLog};
use palisade_types::webhooks::DeliveryLog;

use crate::query::{
    AuditQuery, DeliveryLogQuery, GamebookHistoryQuery, GamebookPageQuery, LogQuery,
};
use crate::{Gamebooks, Incidents, Investigation, PathArg, Result, Webhooks};

/// A boxed stream of items (or the error that ended it).
pub type ItemStream<T> = Pin<Box<dyn Stream<Item = Result<T>> + Send>>;

/// The pages from the request `first` on: `fetch` reads the page of a request; `next` gives
/// the request of the following page (`None` after the last).
pub fn pages<Q, P, F, Fut, N>(first: Q, fetch: F, next: N) -> ItemStream<P>
where
    Q: Send + 'static,
    P: Send + 'static,
    F: Fn(&Q) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<P>> + Send + 'static,
    N: Fn(Q, &P) -> Option<Q> + Send + Sync + 'static,
{
    let fetch = Arc::new(fetch);
    let next = Arc::new(next);
    Box::pin(stream::try_unfold(Some(first), move |state| {
        let (fetch, next) = (fetch.clone(), next.clone());
        async move {
            let Some(q) = state else { return Ok(None) };
            let page = fetch(&q).await?;
            let following = next(q, &page);
            Ok(Some((page, following)))
        }
    }))
}

/// The items of a stream of pages.
pub fn items<P, T, I>(pages: ItemStream<P>, split: fn(P) -> I) -> ItemStream<T>
where
    P: Send + 'static,
    T: Send + 'static,
    I: IntoIterator<Item = T> + 'static,
    I::IntoIter: Send + 'static,
{
    Box::pin(
        pages
            .map_ok(move |p| stream::iter(split(p).into_iter().map(Ok)))
            .try_flatten(),
    )
}

/// The cross-workspace incident listing with a filter; see [`Incidents::across`].
pub struct Across {
    incidents: Incidents,
    filter: AcrossWorkspacesRequest,
}

impl Incidents {
    /// The incidents of every workspace the caller holds a role on that match `filter`,
    /// newest first. `filter.isFirstCall` and `workspacePageTokens` are managed by the stream.
    pub fn across(&self, filter: AcrossWorkspacesRequest) -> Across {
        Across {
            incidents: self.clone(),
            filter,
        }
    }
}

impl Across {
    /// Each page as the server sends it.
    pub fn pages(self) -> ItemStream<AcrossWorkspacesPage> {
        let mut first = self.filter;
        first.is_first_call = Some(true);
        first.workspace_page_tokens = None;
        let incidents = self.incidents;
        pages(
            first,
            move |q| {
                let (incidents, q) = (incidents.clone(), q.clone());
                async move { incidents.across_page(&q).await }
            },
            |mut q, page: &AcrossWorkspacesPage| {
                if !page.more_incidents_available || page.source_page_tokens.is_empty() {
                    return None;
                }
                q.is_first_call = Some(false);
                q.workspace_page_tokens = Some(
                    page.source_page_tokens
                        .iter()
                        .map(|t| WorkspacePageTokensInput {
                            workspace_id: Some(t.workspace_id.to_string()),
                            source_tokens: Some(t.source_tokens.clone()),
                        })
                        .collect(),
                );
                Some(q)
            },
        )
    }

    /// Every matching incident, once.
    pub fn stream(self) -> ItemStream<IncidentListItem> {
        items(self.pages(), |p| p.incidents)
    }
}

impl Webhooks {
    /// Every delivery log of a webhook (`continuationToken` / `hasMore`), newest first.
    pub fn log_stream(&self, id: impl PathArg, query: DeliveryLogQuery) -> ItemStream<DeliveryLog> {
        let (this, id) = (self.clone(), id.path_arg().into_owned());
        let pages = pages(
            query,
            move |q| {
                let (this, id, q) = (this.clone(), id.clone(), q.clone());
                async move { this.logs(&id, &q).await }
            },
            |mut q, page| {
                q.continuation_token = page.continuation_token.clone().filter(|_| page.has_more);
                q.continuation_token.is_some().then_some(q)
            },
        );
        items(pages, |p| p.items)
    }
}

impl Investigation {
    /// Every recorded investigation query of a workspace (`continuationToken` / `hasMore`).
    pub fn audit_stream(
        &self,
        workspace_id: impl PathArg,
        query: AuditQuery,
    ) -> ItemStream<InvestigationAuditEntry> {
        let (this, ws) = (self.clone(), workspace_id.path_arg().into_owned());
        let pages = pages(
            query,
            move |q| {
                let (this, ws, q) = (this.clone(), ws.clone(), q.clone());
                async move { this.audit(&ws, &q).await }
            },
            |mut q, page| {
                q.continuation_token = page.continuation_token.clone().filter(|_| page.has_more);
                q.continuation_token.is_some().then_some(q)
            },
        );
        items(pages, |p| p.items)
    }

    /// Every sign-in log of the query (following `nextPageLink`).
    pub fn signin_log_stream(
        &self,
        workspace_id: impl PathArg,
        query: LogQuery,
    ) -> ItemStream<SignInLog> {
        let (this, ws) = (self.clone(), workspace_id.path_arg().into_owned());
        let pages = pages(
            query,
            move |q| {
                let (this, ws, q) = (this.clone(), ws.clone(), q.clone());
                async move { this.signin_logs(&ws, &q).await }
            },
            |mut q, page| {
                q.next_page_link = page.next_page_link.clone();
                q.next_page_link.is_some().then_some(q)
            },
        );
        items(pages, |p| p.items)
    }

    /// Every directory audit log of the query (following `nextPageLink`).
    pub fn directory_log_stream(
        &self,
        workspace_id: impl PathArg,
        query: LogQuery,
    ) -> ItemStream<DirectoryLog> {
        let (this, ws) = (self.clone(), workspace_id.path_arg().into_owned());
        let pages = pages(
            query,
            move |q| {
                let (this, ws, q) = (this.clone(), ws.clone(), q.clone());
                async move { this.directory_logs(&ws, &q).await }
            },
            |mut q, page| {
                q.next_page_link = page.next_page_link.clone();
                q.next_page_link.is_some().then_some(q)
            },
        );
        items(pages, |p| p.items)
    }
}

impl Gamebooks {
    /// Every gamebook run of a workspace (`pageToken`).
    pub fn history_stream(
        &self,
        workspace_id: impl PathArg,
        query: GamebookHistoryQuery,
    ) -> ItemStream<Gamebook> {
        let (this, ws) = (self.clone(), workspace_id.path_arg().into_owned());
        let pages = pages(
            query,
            move |q| {
                let (this, ws, q) = (this.clone(), ws.clone(), q.clone());
                async move { this.history(&ws, &q).await }
            },
            |mut q, page| {
                q.page_token = page.page_token.clone();
                q.page_token.is_some().then_some(q)
            },
        );
        items(pages, |p| p.gamebooks)
    }

    /// Every gamebook run across workspaces (page numbers, from `query.current_page`).
    pub fn across_history_stream(&self, query: GamebookPageQuery) -> ItemStream<Gamebook> {
        let this = self.clone();
        let pages = pages(
            query,
            move |q| {
                let (this, q) = (this.clone(), q.clone());
                async move { this.across_history(&q).await }
            },
            |mut q, page| {
                q.current_page = page.current_page + 1;
                page.has_next_page.then_some(q)
            },
        );
        items(pages, |p| p.items)
    }
}

impl Incidents {
    /// `POST …/incidents/{source}/ingest` with items that are already JSON text (one incident
    /// object each, e.g. lines of an NDJSON file): the body is assembled without parsing
    /// them again. Retried like [`Incidents::ingest_batch`].
    pub async fn ingest_batch_json<'a>(
        &self,
        workspace_id: impl PathArg,
        source: impl PathArg,
        items: impl IntoIterator<Item = &'a str>,
    ) -> Result<palisade_types::incidents::IngestBatchResult> {
        let op = Incidents::OPERATIONS
            .iter()
            .find(|o| o.name == "ingest_batch")
            .expect("the table holds ingest_batch");
        let mut body = Vec::with_capacity(64 * 1024);
        body.extend_from_slice(b"{\"incidents\":[");
        for (i, item) in items.into_iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            body.extend_from_slice(item.as_bytes());
        }
        body.extend_from_slice(b"]}");
        let path =
            crate::transport::render_path(op.path, &[workspace_id.path_arg(), source.path_arg()])?;
        self.c
            .execute(
                op,
                crate::transport::Call {
                    path,
                    query: None,
                    body: Some(body.into()),
                },
            )
            .await
    }
}
