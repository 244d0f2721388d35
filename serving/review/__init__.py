"""The moderator review workspace: `/review` (one note at a time, decided by keyboard), `/review/stats`
(drift plots), signed-in moderators with CSRF-protected forms, on the queue of `notecheck.model.review`.

Server-rendered with Jinja2; htmx (vendored in `static/`, no build step) swaps the next note in without a page
load, and every form also works without JavaScript.
"""
