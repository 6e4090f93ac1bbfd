"""The intent classifier: which of a fixed set of intents a question expresses, and how sure it is.

Concepts:

- **Training data** (``intents.yml``) lists each intent with a description and example
  questions. ``out_of_scope`` holds real questions the knowledge base does not answer.
- The **model** is one scikit-learn ``Pipeline`` (word and character n-gram TF-IDF into a
  logistic regression), saved with joblib beside its **thresholds**: a question falls back
  when the top probability is below ``fallback``, and asks to clarify when the two best
  domain intents are closer than ``ambiguity``. Both are chosen at every training, never
  typed in by hand, on questions the model did not learn from: **calibration questions**
  written apart from the examples when there are some, else out-of-fold examples
  (stratified folds, or folds grouped by who wrote the examples). Off-topic questions
  weigh as often as traffic is expected to bring them (the **out-of-scope share**), not as
  often as the validation set happens to hold them.
- A **normaliser** (any ``str -> str`` callable) is applied to every example and question.
  The web layer passes the knowledge base's, so search and classifier read text alike.

Nothing here imports Flask or the knowledge base.
"""
