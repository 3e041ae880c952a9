// Gateway: the TLS-terminating reverse proxy that authenticates every request,
// authorizes it with Cedar, forwards it with a signed identity assertion and
// records it in the audit log (issue 6).
