"""The moderator review queue: notes the model flagged or sent to review, stored in a real database with the
decisions moderators make on them, for the `/review` workspace, `notecheck review export` and
`notecheck retrain --from-review`.

It lives in `model/` because serving (the web page, `POST /v1/predict` with `enqueue`), offline scoring and
retraining all read and write the same tables. SQLite by default (`./notecheck.db`), PostgreSQL through
`NOTECHECK_DATABASE_URL`; the schema is created and upgraded by Alembic migrations shipped with the package.
"""
