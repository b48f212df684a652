"""Sending one-time PINs by SMTP, off the event loop, from one owned worker task.

``MailQueue.submit`` returns at once whatever happens next, so the time a login form takes to
answer says nothing about whether a code was sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage

from ramparts.identity.otp import SmtpSettings

log = logging.getLogger(__name__)

MAX_QUEUED = 1000  # messages waiting; beyond this new ones are dropped (and logged)


@dataclass(frozen=True, slots=True)
class Mail:
    settings: SmtpSettings
    to: str
    subject: str
    body: str


def send_now(mail: Mail) -> None:
    """Blocking send (run it in a thread)."""
    s = mail.settings
    message = EmailMessage()
    message["From"] = s.sender
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message.set_content(mail.body)
    context = ssl.create_default_context()
    if s.security == "tls":
        client: smtplib.SMTP = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=context)
    else:
        client = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
    with client:
        if s.security == "starttls":
            client.starttls(context=context)
        if s.username:
            client.login(s.username, s.password)
        client.send_message(message)


class MailQueue:
    """One worker task sends queued mail; start() and stop() belong to the owner."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[Mail] = asyncio.Queue(MAX_QUEUED)
        self._task: asyncio.Task[None] | None = None
        self.sent = 0
        self.failed = 0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="otp-mailer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def submit(self, mail: Mail) -> None:
        self.start()
        try:
            self._queue.put_nowait(mail)
        except asyncio.QueueFull:
            self.failed += 1
            log.warning("mail queue full, code not sent")

    async def join(self) -> None:
        """Wait until everything queued so far was handled (tests, shutdown)."""
        await self._queue.join()

    async def _run(self) -> None:
        while True:
            mail = await self._queue.get()
            try:
                await asyncio.to_thread(send_now, mail)
                self.sent += 1
            except (OSError, smtplib.SMTPException) as exc:
                self.failed += 1
                log.warning("cannot send one-time PIN", extra={"reason": str(exc)})
            finally:
                self._queue.task_done()
