// Audit: the tamper-evident, partitioned record of every access decision and
// administrative change, written off the request path (issue 7).
