"""Replies for support agents: read a customer's pasted mail and write an answer to paste back.

Concepts:

- A **message** (``message``) is the customer's own text, with quoted thread, signature and
  greeting removed, and the name they signed with.
- A **reply** (``reply``) is a canned answer written as a mail in one of several formats
  (plain text, Markdown, HTML), greeting and signature included, links made absolute.

Nothing here imports Flask or the classifier: the web layer decides the answer.
"""
