// Identity: users, roles, groups, service accounts, sessions, MFA and the token endpoint,
// stored in PostgreSQL through `Database` and signed through `Tokens` (issue 5).
