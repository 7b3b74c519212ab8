"""SMTP delivery of one message: the connection as configured (implicit TLS, STARTTLS or
plain, login), the classification of a refusal (permanent 5xx, deferred, server down), and the
.eml folder sink used when no SMTP server is set."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

from core.home import write_atomic
from core.settings import Settings

SMTP_TIMEOUT_SECONDS = 30


def connect_smtp(settings: Settings) -> smtplib.SMTP:
    """An SMTP connection as configured: implicit TLS, STARTTLS or plain, then login if set."""
    host, port = settings.smtp_host or "localhost", settings.smtp_port
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if settings.smtp_ssl:
        smtp = smtplib.SMTP_SSL(host, port, timeout=SMTP_TIMEOUT_SECONDS, context=context)
    else:
        smtp = smtplib.SMTP(host, port, timeout=SMTP_TIMEOUT_SECONDS)
        if settings.smtp_starttls:
            smtp.starttls(context=context)
    if settings.smtp_user:
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
        smtp.login(settings.smtp_user, password)
    return smtp


def is_permanent(err: Exception) -> bool:
    """A 5xx refusal of this message (not a login or TLS problem): retrying will not help."""
    if isinstance(err, smtplib.SMTPAuthenticationError | smtplib.SMTPNotSupportedError):
        return False
    if isinstance(err, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in err.recipients.values())
    if isinstance(err, smtplib.SMTPSenderRefused | smtplib.SMTPDataError):
        return err.smtp_code >= 500
    return False


def connection_lost(err: Exception) -> bool:
    return isinstance(err, OSError | smtplib.SMTPServerDisconnected | smtplib.SMTPConnectError)


def send_message(smtp: smtplib.SMTP, message: EmailMessage, envelope_from: str,
          recipient: str) -> tuple[str, str | None]:
    """Hand one message to the server: ("sent" | "failed" | "deferred" | "down", error)."""
    try:
        smtp.send_message(message, from_addr=envelope_from, to_addrs=[recipient])
    except (smtplib.SMTPException, OSError) as err:
        error = f"{type(err).__name__}: {err}"[:1000]
        if is_permanent(err):
            return "failed", error
        return ("down" if connection_lost(err) else "deferred"), error
    return "sent", None


def write_eml(outbox_dir: Path, outbox_id: str, message: EmailMessage) -> Path:
    """Write `<outbox id>.eml` atomically; an existing file (a rerun) is left as it is."""
    path = outbox_dir / f"{outbox_id}.eml"
    if path.exists():
        return path
    return write_atomic(path, lambda tmp: tmp.write_bytes(message.as_bytes(policy=SMTP)))
