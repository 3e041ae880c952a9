-- wrk script: POST /oauth2/token with grant_type=client_credentials for one service account.
-- The secret comes from the environment so it never lands in a file.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "grant_type=client_credentials&client_id=bench-service&client_secret=" .. os.getenv("BENCH_SECRET")
