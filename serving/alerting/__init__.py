"""Alerting: the alert lifecycle in the service database, silences, subscriptions, the e-mail
outbox and its SMTP delivery, digests with their charts and templates."""
