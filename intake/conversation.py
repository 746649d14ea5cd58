"""Runs the engine for one inbound step and carries out the events that are not replies."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from redis import Redis
from rq import Queue, Retry

from .flow import engine
from .flow import events as ev
from .flow.engine import Flow, Reading, Session, Trigger, UserInput
from .flow.model import Channel
from .flow.text import parse_phone
from .store import DEFAULT_QUEUE, URGENT_QUEUE, Store, mask
from .tasks import new_task_id, task_from_request

log = logging.getLogger(__name__)

CREATE_TASK_JOB = "workers.jobs.create_task"  # by name: the web layer never imports workers
TASK_RETRY = Retry(max=5, interval=[2, 10, 30, 60, 120])


@dataclass
class Step:
    """The result of one inbound message or key press."""

    session: Session | None
    events: list[ev.Event]
    duplicate: bool = False
    limited: bool = False  # over the inbound limit: not processed


class Conversations:
    """One place that loads, moves on and saves sessions, and queues staff tasks."""

    def __init__(
        self,
        flow: Flow,
        store: Store,
        redis: Redis,
        tz: ZoneInfo,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        inbound_limit: int = 0,
    ) -> None:
        self.flow = flow
        self.store = store
        self.redis = redis
        self.clock = clock
        self.tz = tz
        self.inbound_limit = inbound_limit  # messages per sender per minute; 0: no limit

    def step(
        self,
        channel: Channel,
        key: str,
        contact: str,
        inp: UserInput | None,
        delivery_id: str = "",
        language: str | None = None,
        sender: str = "",
    ) -> Step:
        """Handle one input from the person behind `key` (their number, or a CallSid).

        `sender`: who this input counts against the inbound limit ("" for nobody).
        """
        with self.store.lock(channel, key):
            # One round trip: dedupe mark, the sender's count, session and opt-out together.
            first, session, opted_out, recent = self.store.begin_step(
                channel, key, contact, delivery_id, sender if self.inbound_limit else ""
            )
            if not first:
                log.info("%s %s: repeated delivery, not processed again", channel, mask(contact))
                return Step(session=None, events=[], duplicate=True)
            now = self.clock()
            if channel == "sms" and opted_out:
                reading = engine.read(self.flow, inp.text) if inp else None  # read once
                if reading is None or not engine.opts_in(self.flow, reading):
                    self._silent_crisis_check(session, channel, contact, reading, now)
                    return Step(session=session, events=[])
            if self.inbound_limit and recent > self.inbound_limit:
                limited = self._over_limit(channel, contact, session, inp, recent)
                if limited is not None:
                    return limited
            if session is None:
                trigger = Trigger(
                    channel=channel,
                    contact=contact,
                    now=now,
                    language=language,
                    returning=self.store.is_returning(channel, key),
                )
                session, events = engine.start(self.flow, trigger, inp)
            else:
                before = session.state
                session, events = engine.resume(self.flow, session, inp or UserInput(), now)
                log.debug("%s %s: %s -> %s", channel, mask(contact), before, session.state)
            self.carry_out(session, events, now)
            self._keep(key, session, events)
        log.info(
            "%s %s: %s",
            channel,
            mask(contact),
            ",".join(e.type for e in events) or "no events",
        )
        return Step(session=session, events=events)

    def _over_limit(
        self,
        channel: Channel,
        contact: str,
        session: Session | None,
        inp: UserInput | None,
        recent: int,
    ) -> Step | None:
        """Past the inbound limit: one polite answer, then silence for the minute.

        Crisis words always pass (None: carry on as usual), so they are read first.
        """
        language = session.language if session else self.flow.spec.languages[0]
        said = (inp.text or inp.speech) if inp else ""
        if said and engine.read(self.flow, said, language).crisis is not None:
            return None
        if recent > self.inbound_limit + 1:
            return Step(session=session, events=[], limited=True)
        log.warning("%s %s: over the inbound limit; quiet for the minute", channel, mask(contact))
        texts = self.flow.spec.messages["rate_limited"][channel]
        text = engine.render(
            texts.get(language) or texts[self.flow.spec.languages[0]], self.flow.params
        )
        events: list[ev.Event] = (
            [ev.MessageSent(text)]
            if channel == "sms"
            else [ev.PromptSpoken(text), ev.SessionEnded()]
        )
        return Step(session=session, events=events, limited=True)

    def signal(self, channel: Channel, key: str, name: str) -> Step:
        """Report something the host saw (a transfer that could not happen) to the session."""
        with self.store.lock(channel, key):
            session = self.store.load_session(channel, key)
            if session is None:
                return Step(session=None, events=[])
            now = self.clock()
            session, events = engine.signal(self.flow, session, name, now)
            self.carry_out(session, events, now)
            self._keep(key, session, events)
        log.info(
            "%s %s: %s: %s",
            channel,
            mask(session.contact),
            name,
            ",".join(e.type for e in events) or "no events",
        )
        return Step(session=session, events=events)

    def _keep(self, key: str, session: Session, events: list[ev.Event]) -> None:
        if any(isinstance(e, ev.SessionEnded) for e in events):
            self.store.delete_session(session.channel, key)
        else:
            self.store.save_session(key, session)

    def carry_out(self, session: Session, events: list[ev.Event], now: datetime) -> None:
        """Opt-outs and tasks; replies are the transport's business."""
        for event in events:
            if isinstance(event, ev.OptedOut) and session.contact:
                self.store.opt_out(session.contact)
            elif isinstance(event, ev.OptedIn) and session.contact:
                self.store.opt_in(session.contact)
            elif isinstance(event, ev.CrisisDetected):
                # One urgent task per conversation, however many crisis messages.
                seed = (
                    f"crisis:{session.channel}:{session.contact}:{session.started_at.isoformat()}"
                )
                self.enqueue_task(event.request, new_task_id(seed), now)
            elif isinstance(event, ev.CallbackRequested):
                self.enqueue_task(event.request, new_task_id(), now)

    def enqueue_task(self, request: ev.CallbackRequest, task_id: str, now: datetime) -> None:
        if request.callback_number and not parse_phone(request.callback_number):
            # A sender such as "client:alice" or "anonymous" is no number staff can call.
            request = replace(request, callback_number=None)
        task = task_from_request(request, task_id, now, self.tz)
        queue_name = URGENT_QUEUE if task.priority == "urgent" else DEFAULT_QUEUE
        Queue(queue_name, connection=self.redis).enqueue(
            CREATE_TASK_JOB,
            task.model_dump(mode="json"),
            job_id=f"create-task-{task.id}",
            retry=TASK_RETRY,
            description=f"create {task.kind} task {task.id}",
        )
        log.info("queued %s task %s (%s)", task.kind, task.id, task.priority)

    def _silent_crisis_check(
        self,
        session: Session | None,
        channel: Channel,
        contact: str,
        reading: Reading | None,
        now: datetime,
    ) -> None:
        """An opted-out person gets no reply, but crisis language still reaches staff."""
        found = reading.crisis if reading is not None else None
        if found is None:
            return
        base = session or Session(
            flow=self.flow.id,
            channel=channel,
            language=self.flow.spec.languages[0],
            contact=contact,
            state=self.flow.spec.start,
            started_at=now,
            updated_at=now,
        )
        request = engine.callback_request(base, kind="crisis", category=found[0])
        seed = f"crisis:{channel}:{contact}:{base.started_at.isoformat()}"
        self.enqueue_task(request, new_task_id(seed), now)
        log.warning(
            "%s %s: crisis language from an opted-out number; urgent task, no reply",
            channel,
            mask(contact),
        )
