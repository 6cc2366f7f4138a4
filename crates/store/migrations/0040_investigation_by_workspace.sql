-- Sign-in and directory logs listed for a whole workspace (no UserId), newest first.
CREATE INDEX signin_logs_workspace ON signin_logs (organization_id, workspace_id, created_at DESC, id DESC);
CREATE INDEX directory_logs_workspace ON directory_logs (organization_id, workspace_id, created_at DESC, id DESC);
