"""Mail clients: check the settings a customer typed, and configure mail apps for them.

Concepts:

- **Labels** (``labels``) name what mail apps show: protocols, security ("SSL/TLS",
  "STARTTLS", "None"), authentication methods, and the apps themselves.
- The **checker** (``checker``) compares a customer's incoming and outgoing settings with the
  settings file and says, per field, what will fail and what to type instead, citing the policy.
- The **input reader** (``checkinput``) reads those settings from a form, a JSON body or free
  text (a pasted description, a bot question, a customer's mail).
- **Autoconfig** (``autoconfig``) writes the files mail apps fetch to set themselves up
  (Thunderbird's autoconfig, Outlook's Autodiscover, Apple's profile) and DNS SRV records;
  the **setup guide** (``clientsetup``) walks a person through one app.

Everything reads the knowledge base's settings and articles; nothing here imports Flask.
"""
