"""The intent classifier: which of a fixed set of intents a question expresses, and how sure it is.

Concepts:

- **Training data** (``intents.yml``) lists each intent with a description and example
  questions. ``out_of_scope`` holds real questions the knowledge base does not answer.
- The **model** is one scikit-learn ``Pipeline`` (word and character n-gram TF-IDF into a
  logistic regression), saved with joblib beside its **thresholds**: a question falls back
  when the top probability is below ``fallback``, and asks to clarify when the two best
  domain intents are closer than ``ambiguity``. Both are chosen by cross-validation at
  every training, never typed in by hand.
- A **normaliser** (any ``str -> str`` callable) is applied to every example and question.
  The web layer passes the knowledge base's, so search and classifier read text alike.

Nothing here imports Flask or the knowledge base.
"""
