"""Analytics: what the stored questions, searches and votes say about the knowledge base.

Concepts:

- **Redaction** (``redact``) removes personal data (addresses, numbers, secrets) from a
  question before it is stored.
- **Gaps** (``gaps``) are failure signals (a fallback, a clarifying question, a search with no
  results or no click, a "not helpful" vote) grouped by what was asked, so the support team
  sees the largest holes first.
- **Charts** (``charts``) draw the reports as plain SVG, with no script.

Storage lives in the web layer; everything here takes and returns plain values.
"""
